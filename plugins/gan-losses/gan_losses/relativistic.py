"""Relativistic average losses: Jolicoeur-Martineau, *The relativistic discriminator: a key element
missing from standard GAN* (ICLR 2019; arXiv 2018).

The critic estimates how much more real a real sample is than the average generated one (and a
generated one than the average real one):

    d_real = v_real - E_Q[v],    d_fake = v_fake - E_P[v]

RaGAN puts these relative outputs into the standard GAN loss, RaLSGAN into the least-squares one.
Because real data enters the generator's loss too, the generator also learns to make real data look
*less* real, which the paper argues the standard GAN's generator ignores (half the divergence), and
which trained more stably in its experiments.

The generator's loss needs the critic's outputs on real data, but gancore's generator step gives a
loss only ``fake_out``. So the generator's side lives in the regularizer ``relativistic``, whose
``generator_term`` scores the step's real batch with the (frozen) critic and calls the loss's
``relativistic_generator_loss``; both losses recommend it, so ``--loss ragan`` selects it. Their own
``generator_loss`` is zero (the logged ``g_loss`` is 0; the generator's loss is ``reg/relativistic/g``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import torch.nn.functional as F
from torch import Tensor

from gancore import ConfigError, GANModel, GeneratorStepContext, Loss, Regularizer


def relative(real_out: Tensor, fake_out: Tensor) -> tuple[Tensor, Tensor]:
    """(v_real - mean v_fake, v_fake - mean v_real): each side measured against the other's average."""
    return real_out - fake_out.mean(), fake_out - real_out.mean()


@attrs.define
class RelativisticAverage(Loss):
    """Common to RaGAN and RaLSGAN: the generator's loss comes through the ``relativistic`` regularizer."""

    #: the regularizer that computes the generator's loss (selected for you: a recommendation)
    recommends: ClassVar[dict[str, Any]] = {"regs": ["relativistic"]}

    def generator_loss(self, fake_out: Tensor) -> Tensor:
        # zero: the generator's loss needs the real batch's outputs, which only a regularizer sees
        return fake_out.new_zeros(())

    def relativistic_generator_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        raise NotImplementedError

    def diagnostics(self, real_out: Tensor, fake_out: Tensor) -> dict[str, Tensor]:
        # what the relativistic critic separates: the mean real output above the mean generated one
        return {"real_minus_fake": real_out.mean() - fake_out.mean()}


@attrs.define
class RaGAN(RelativisticAverage):
    """Relativistic average GAN (Jolicoeur-Martineau 2018): the standard GAN loss on relative outputs."""

    name = "ragan"

    def critic_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        # -log sigmoid(d_real) - log(1 - sigmoid(d_fake)), as softplus: exact for any output size
        d_real, d_fake = relative(real_out, fake_out)
        return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()

    def relativistic_generator_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        d_real, d_fake = relative(real_out, fake_out)
        return F.softplus(-d_fake).mean() + F.softplus(d_real).mean()


@attrs.define
class RaLSGAN(RelativisticAverage):
    """Relativistic average LSGAN (Jolicoeur-Martineau 2018): least squares on relative outputs (±1)."""

    name = "ralsgan"

    def critic_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        d_real, d_fake = relative(real_out, fake_out)
        return (d_real - 1).square().mean() + (d_fake + 1).square().mean()

    def relativistic_generator_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        d_real, d_fake = relative(real_out, fake_out)
        return (d_fake - 1).square().mean() + (d_real + 1).square().mean()


@attrs.define
class RelativisticGenerator(Regularizer):
    """The generator's loss of a relativistic average loss (ragan, ralsgan), which needs the real batch."""

    name = "relativistic"

    def check(self, model: GANModel) -> None:
        if not callable(getattr(model.loss, "relativistic_generator_loss", None)):
            raise ConfigError(
                f"regularizer 'relativistic' is the generator loss of a relativistic average loss"
                f" (ragan, ralsgan); loss {model.loss.name!r} is not one"
            )

    def generator_term(self, ctx: GeneratorStepContext) -> Tensor:
        # one extra critic forward on the real batch; the critic is frozen in this step, so the
        # generator's gradient flows only through fake_out (and through mean v_fake in d_real)
        real_out = ctx.model.score(ctx.real).float().detach()
        return ctx.model.loss.relativistic_generator_loss(real_out, ctx.fake_out)
