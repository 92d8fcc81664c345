"""A plugin written against gancore's public API alone: an EMA of the generator, sampled in its place
(Yazici et al. 2019), and top-k generator updates (Sinha et al. 2020) on a per-sample loss.

The tests register it at run time (``register_plugin(ema_topk, "ema-topk")``); as a package it would declare
``[project.entry-points.gancore] ema-topk = "ema_topk"``.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from gancore import Callback, GANModel, GeneratorStepContext, Loss, SampleWeighting, hookimpl, option

_unit = attrs.validators.and_(attrs.validators.ge(0.0), attrs.validators.le(1.0))


@attrs.define
class EMA(Callback):
    """Exponential moving average of the generator's weights, sampled instead of the live generator.

    torch's ``AveragedModel`` holds the average (a copy of the generator plus its ``n_averaged``
    counter) and ``get_ema_multi_avg_fn`` updates it with one foreach ``lerp_``. Its
    ``update_parameters`` is not used: it asks the host whether ``n_averaged`` is 0 on every call, a
    sync a recorded step cannot contain. The average starts from the initial weights instead.
    """

    name = "ema"
    ema_decay: float = option(0.999, help="weight of the old average at each generator step", validator=_unit)
    average: AveragedModel | None = attrs.field(default=None, init=False)

    def setup(self, model: GANModel) -> None:
        # on the model's device, the counter included: a recorded CUDA step must update it there
        ema = get_ema_multi_avg_fn(self.ema_decay)
        self.average = AveragedModel(model.generator, model.device, multi_avg_fn=ema)
        self.average.requires_grad_(False)

    def sampled_generator(self) -> nn.Module:
        return self.average.module

    def after_generator_step(self, model: GANModel) -> None:
        averaged, live = self.average.module, model.generator
        params = [p.detach() for p in live.parameters()]
        self.average.multi_avg_fn(list(averaged.parameters()), params, self.average.n_averaged)
        for kept, buffer in zip(averaged.buffers(), live.buffers(), strict=True):
            kept.copy_(buffer)  # running statistics follow the live generator, as AveragedModel's do
        self.average.n_averaged.add_(1)

    def state_dict(self) -> dict[str, Tensor]:
        # the averaged weights are the sampled generator's: the engine saves and restores those
        return {"n_averaged": self.average.n_averaged}


@attrs.define
class NonSaturatingPerSample(Loss):
    """The non-saturating GAN loss on logits, one value per sample (what weightings need)."""

    name = "ns-per-sample"
    per_sample = True

    def critic_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        return F.softplus(-real_out) + F.softplus(fake_out)

    def generator_loss(self, fake_out: Tensor) -> Tensor:
        return F.softplus(-fake_out)

    def logit(self, out: Tensor) -> Tensor:
        return out


def top_k(n: int, epoch: int, gamma: float, minimum: float) -> int:
    """Sinha et al.'s k: the whole batch at first, times ``gamma`` each epoch, never below ``minimum * n``."""
    return max(1, math.ceil(minimum * n), math.floor(n * gamma**epoch))


@attrs.define
class TopK(SampleWeighting):
    """Top-k training: the generator learns from the k fakes the critic scores as most real."""

    name = "topk"
    topk_gamma: float = option(0.99, help="k shrinks by this factor each epoch", validator=_unit)
    topk_min: float = option(0.5, help="k never drops below this fraction of the batch", validator=_unit)

    def generator_weights(self, ctx: GeneratorStepContext) -> Tensor:
        scores = ctx.fake_out.detach()
        k = top_k(scores.shape[0], ctx.epoch, self.topk_gamma, self.topk_min)  # Python ints: no host read
        best = scores.topk(k).indices
        return torch.zeros_like(scores).index_fill_(0, best, 1.0)


@hookimpl
def gancore_callbacks() -> list[type[Any]]:
    return [EMA]


@hookimpl
def gancore_losses() -> list[type[Any]]:
    return [NonSaturatingPerSample]


@hookimpl
def gancore_sample_weightings() -> list[type[Any]]:
    return [TopK]
