"""EMA of the generator: Yazici, Foo, Winkler, Yap, Piliouras & Chandrasekhar, *The Unusual
Effectiveness of Averaging in GAN Training* (ICLR 2019).

GAN training often circles an equilibrium instead of settling on it. An exponential moving average of
the generator's weights, taken outside the game (the live generator trains exactly as without it),
averages the cycle out: the paper proves the oscillation's amplitude vanishes as β → 1 on bilinear
games and finds better FID and Inception scores on every dataset it tries. BigGAN, StyleGAN and most
image GANs since sample an EMA generator.

    average <- β · average + (1 - β) · live          after every generator optimizer step

β = ``ema_decay``. Before ``ema_start`` generator steps the average copies the live weights (β is 0),
as BigGAN does, so it does not carry the early, poor generators for long. From then on, with
``ema_warmup`` (the default), β at the t-th averaged step is min(β, (1 + t) / (10 + t)), the ramp of
TensorFlow's ``ExponentialMovingAverage(num_updates=t)``: a short run is not an average dominated by
its first weights (with a fixed β = 0.999, after 935 steps 0.999^935 = 39% of the average is still
the random initial generator, which on MNIST at 5 epochs sampled one digit: docs/results.md).
The averaged generator is the run's sampled generator: grids, ``--eval-every``, samplers,
``gan sample`` and ``gan eval`` use it (``gan sample --live`` draws from the live one); the engine
saves its weights in every checkpoint. Buffers (BatchNorm statistics) are copied from the live
generator, not averaged.
"""

from __future__ import annotations

import copy

import attrs
import torch
from torch import Tensor, nn

from gancore import Callback, GANModel, option, warn


def _decay(instance: object, attribute: attrs.Attribute, value: float) -> None:
    # 1.0 would keep the first weights forever: the average must move
    if not 0.0 <= value < 1.0:
        raise ValueError(f"--ema-decay must be in [0, 1), got {value}")


def _start(instance: object, attribute: attrs.Attribute, value: int) -> None:
    if value < 0:
        raise ValueError(f"--ema-start must be >= 0, got {value}")


@attrs.define
class EMA(Callback):
    """EMA of the generator's weights (Yazici et al. 2019), sampled and evaluated instead of the live one."""

    name = "ema"
    ema_decay: float = option(
        0.999,
        help="β: weight of the old average at each generator step (horizon ~1/(1-β) steps)",
        validator=_decay,
    )
    ema_start: int = option(
        0,
        help="generator steps before averaging starts; until then the average copies the live weights",
        validator=_start,
    )
    ema_warmup: bool = option(
        True,
        help="ramp β as min(β, (1+t)/(10+t)) over the averaged steps t (TF's num_updates), so a short"
        " run's average is not mostly its first weights",
    )
    average: nn.Module | None = attrs.field(default=None, init=False)
    #: generator optimizer steps seen (saved): decides, on the device, whether averaging has started
    updates: Tensor | None = attrs.field(default=None, init=False)

    def check_length(self, total_steps: int, steps_per_epoch: int) -> None:
        # a warning, not a refusal: a run may be resumed past its first length (--resume --steps N)
        if self.ema_start >= total_steps:
            warn(
                f"--ema-start {self.ema_start} is at or after the run's end (step {total_steps}): the"
                " average never starts, and the run samples the live generator unless resumed past it"
            )

    def setup(self, model: GANModel) -> None:
        # a copy of the (possibly warm-started) generator on its device; a resumed run then loads the
        # saved average into it (the engine's sampled_generator.*) and `updates` in place
        self.average = copy.deepcopy(model.generator).requires_grad_(False)
        self.updates = torch.zeros((), dtype=torch.long, device=model.device)

    def sampled_generator(self) -> nn.Module | None:
        return self.average

    def weight(self) -> Tensor:
        """This step's 1 - β as a device tensor: 1 (copy) before ``ema_start`` updates, then 1 - β
        (β ramped by ``ema_warmup``)."""
        started = self.updates >= self.ema_start
        beta = torch.full((), self.ema_decay, device=self.updates.device)
        if self.ema_warmup:  # an option, not a branch on a value: the step stays free of host reads
            t = (self.updates - self.ema_start).clamp(min=0).float()
            beta = torch.minimum(beta, (1 + t) / (10 + t))
        return torch.where(started, 1.0 - beta, 1.0)

    def after_generator_step(self, model: GANModel) -> None:
        # inside the step, under no_grad: in place, no host read, no branch on the step or a value
        w = self.weight()
        for kept, live in zip(self.average.parameters(), model.generator.parameters(), strict=True):
            kept.lerp_(live.detach(), w.to(kept.dtype))
        for kept, live in zip(self.average.buffers(), model.generator.buffers(), strict=True):
            kept.copy_(live)
        self.updates.add_(1)

    def state_dict(self) -> dict[str, Tensor]:
        # the averaged weights are the sampled generator's: the engine saves and restores those
        return {"updates": self.updates}
