"""Adaptive discriminator augmentation (Karras et al. 2020, "Training Generative Adversarial Networks
with Limited Data", arXiv:2006.06676).

Every image the critic sees, real or generated, in both steps, is flipped, translated and cut out,
each with probability ``p``. ``p`` starts at 0 and follows the critic's overfitting: every
``--ada-interval`` critic steps, r_t = E[sign(D(real))] over those steps is compared with
``--ada-target`` (0.6 in the paper), and ``p`` moves by ``batch * interval / (--ada-kimg * 1000)`` up
when r_t is above it, down when below, within [0, 1]. The transforms are DiffAugment's
(``gancore.flip``, ``translate``, ``cutout``): differentiable, so the generator learns through them
and, at ``p`` below about 0.8, they do not leak into its samples.

The augmentation (``--augment ada``) and the callback that steers it (``--callback ada``) share ``p``
through the run (``model.shared(AdaState)``): the engine keeps it in checkpoints, so a resumed run
augments as an uninterrupted one does. Everything stays on the device: no read of ``p`` or r_t per
step, and under torchrun r_t is averaged over the processes, so every process holds the same ``p``.
The sign of D(real) says "real" for losses whose critic output is positive on real data (vanilla,
hinge, the Wasserstein losses).
"""

from __future__ import annotations

from typing import ClassVar

import attrs
import torch
from torch import Tensor

from gancore import (
    Augmentation,
    Callback,
    ConfigError,
    CriticStepResult,
    GANModel,
    SharedState,
    cutout,
    mean_over_processes,
    option,
    translate,
)


def _target(instance: object, attribute: attrs.Attribute, value: float) -> None:
    # r_t is a mean of signs: 0 or 1 as a target would drive p to an end and keep it there
    if not 0.0 < value < 1.0:
        raise ValueError(f"--ada-target must be in (0, 1), got {value}")


def _positive(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not value > 0:
        raise ValueError(f"--{attribute.name.replace('_', '-')} must be positive, got {value}")


def _zero() -> Tensor:
    return torch.zeros(())


@attrs.define
class AdaState(SharedState):
    """``p`` and what the callback has counted since its last adjustment; r_t as last measured."""

    key = "gan-ada"
    p: Tensor = attrs.field(factory=_zero)
    signs: Tensor = attrs.field(factory=_zero)  # sum of sign(D(real)) over the images counted
    seen: Tensor = attrs.field(factory=_zero)  # real images counted
    steps: Tensor = attrs.field(factory=_zero)  # critic steps counted
    rt: Tensor = attrs.field(factory=_zero)


def _each_with(p: Tensor, x: Tensor, transformed: Tensor) -> Tensor:
    """Each image of ``x`` replaced by its transformed version with probability ``p``."""
    chosen = torch.rand(x.shape[0], 1, 1, 1, device=x.device) < p
    return torch.where(chosen, transformed, x)


@attrs.define
class AdaAugment(Augmentation):
    """ADA: flip, translation and cutout of critic inputs, each with the adaptive probability p."""

    name = "ada"
    requires: ClassVar = {"callbacks": ("ada",)}  # without the callback p stays 0: nothing would happen
    _state: AdaState | None = attrs.field(init=False, default=None)

    def check(self, model: GANModel) -> None:
        if len(model.spec.shape) != 3:
            raise ConfigError(
                f"augmentation 'ada' works on images (N, C, H, W), but this dataset's samples have shape"
                f" {tuple(model.spec.shape)}; use it with an image dataset (mnist, fashion-mnist)"
            )
        self._state = model.shared(AdaState)

    def __call__(self, x: Tensor) -> Tensor:
        p = self._state.p
        x = _each_with(p, x, x.flip(-1))
        x = _each_with(p, x, translate(x))
        return _each_with(p, x, cutout(x))


@attrs.define
class AdaController(Callback):
    """Steers ADA's p toward r_t = E[sign(D(real))] = --ada-target; logs ada/p and ada/rt."""

    name = "ada"
    requires: ClassVar = {"augment": ("ada",)}
    ada_target: float = option(0.6, help="the r_t = E[sign(D(real))] that p is steered to", validator=_target)
    ada_interval: int = option(4, help="critic steps between adjustments of p", validator=_positive)
    ada_kimg: float = option(
        100.0, help="thousands of real images over which p can move from 0 to 1", validator=_positive
    )
    _state: AdaState | None = attrs.field(init=False, default=None)

    def check(self, model: GANModel) -> None:
        self._state = model.shared(AdaState)

    def after_critic_step(self, model: GANModel, result: CriticStepResult) -> dict[str, Tensor]:
        s = self._state
        s.signs += torch.sign(result.real_out.float()).sum()
        s.seen += result.real_out.numel()
        s.steps += 1
        due = s.steps >= self.ada_interval
        rt = mean_over_processes(s.signs / s.seen.clamp(min=1))
        processes = torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1
        images = self.ada_interval * result.real_out.numel() * processes  # a shape: known on the host
        stepped = (s.p + torch.sign(rt - self.ada_target) * (images / (self.ada_kimg * 1000))).clamp(0, 1)
        s.p.copy_(torch.where(due, stepped, s.p))
        s.rt.copy_(torch.where(due, rt, s.rt))
        for counter in (s.signs, s.seen, s.steps):
            counter.masked_fill_(due, 0)
        return {"p": s.p, "rt": s.rt}
