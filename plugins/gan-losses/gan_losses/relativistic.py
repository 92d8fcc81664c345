"""Relativistic average losses: Jolicoeur-Martineau, *The relativistic discriminator: a key element
missing from standard GAN* (ICLR 2019; arXiv 2018).

The critic estimates how much more real a real sample is than the average generated one (and a
generated one than the average real one):

    d_real = v_real - E_Q[v],    d_fake = v_fake - E_P[v]

RaGAN puts these relative outputs into the standard GAN loss, RaLSGAN into the least-squares one.
Because real data enters the generator's loss too, the generator also learns to make real data look
*less* real, which the paper argues the standard GAN's generator ignores (half the divergence), and
which trained more stably in its experiments.

The generator's loss needs the critic's outputs on real data too: the losses say so
(``needs_real_out``), and gancore's generator step scores the real batch with the frozen critic and
passes them, detached, to ``generator_loss(fake_out, real_out)``. The generator's gradient flows
through ``fake_out`` (and through mean v_fake in d_real).
"""

from __future__ import annotations

import attrs
import torch.nn.functional as F
from torch import Tensor

from gancore import Loss


def relative(real_out: Tensor, fake_out: Tensor) -> tuple[Tensor, Tensor]:
    """(v_real - mean v_fake, v_fake - mean v_real): each side measured against the other's average."""
    return real_out - fake_out.mean(), fake_out - real_out.mean()


@attrs.define
class RelativisticAverage(Loss):
    """Common to RaGAN and RaLSGAN: the generator's loss compares the fakes with the real batch."""

    needs_real_out = True

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

    def generator_loss(self, fake_out: Tensor, real_out: Tensor | None = None) -> Tensor:
        d_real, d_fake = relative(real_out, fake_out)
        return F.softplus(-d_fake).mean() + F.softplus(d_real).mean()


@attrs.define
class RaLSGAN(RelativisticAverage):
    """Relativistic average LSGAN (Jolicoeur-Martineau 2018): least squares on relative outputs (±1)."""

    name = "ralsgan"

    def critic_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        d_real, d_fake = relative(real_out, fake_out)
        return (d_real - 1).square().mean() + (d_fake + 1).square().mean()

    def generator_loss(self, fake_out: Tensor, real_out: Tensor | None = None) -> Tensor:
        d_real, d_fake = relative(real_out, fake_out)
        return (d_fake - 1).square().mean() + (d_real + 1).square().mean()
