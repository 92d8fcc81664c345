"""Top-k training: Sinha, Zhao, Goyal, Raffel & Odena, *Top-k Training of GANs: Improving GAN
Performance by Throwing Away Bad Samples*, NeurIPS 2020.

When the generator is updated, only the k samples of the batch that the critic scores as most real
contribute: the gradients of the others are zeroed. The paper's argument (and its mixture-of-Gaussians
analysis): the critic's gradient at a sample it finds very unrealistic points toward whatever region
the critic currently likes best, which need not be the sample's nearest mode, so those updates can
push samples *away* from the data; the best-scored samples' gradients are the informative ones. Early
on the critic knows little, so k starts at the batch size n and is annealed once per epoch:

    k = max(ceil(nu * n), floor(gamma^epoch * n)),   epoch = 0, 1, ... (completed passes over the data)

gamma = ``--topk-gamma`` (0.99) and nu = ``--topk-min`` (0.5) are the values used here: the paper's
decay factor of 0.99 per epoch, and a floor of half the batch, which is the value we recall the paper
recommending for the minimum (it reports that too small a k hurts, the floor keeping enough samples for
a useful gradient estimate). Neither was checked against the paper's text here.

In gancore this is a sample weighting on the loss's per-sample generator losses (the loss is
computed once; the engine optimises ``sum(w * l) / sum(w)``, the mean over the k kept samples): a
0/1 mask from ``torch.topk`` of the critic's outputs, on the device. k is a Python int fixed per
epoch, so nothing is read back to the host inside the step and a recorded CUDA graph stays valid for
the epoch. The critic's update is untouched (the paper's method changes the generator's update only).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import attrs
import torch
from torch import Tensor

from gancore import GeneratorStepContext, SampleWeighting, option


def _fraction(instance: object, attribute: attrs.Attribute, value: float) -> None:
    # 0 would leave k at nothing: no fake would teach the generator
    if not 0.0 < value <= 1.0:
        raise ValueError(f"--{attribute.name.replace('_', '-')} must be in (0, 1], got {value}")


def top_k(n: int, epoch: int, gamma: float, minimum: float) -> int:
    """k = max(ceil(minimum * n), floor(gamma^epoch * n)), at least 1: all of the batch at epoch 0."""
    return max(1, math.ceil(minimum * n), math.floor(n * gamma**epoch))


def top_k_mask(scores: Tensor, k: int) -> Tensor:
    """1.0 at the ``k`` highest ``scores``, 0.0 elsewhere (same shape and dtype), computed on their device."""
    best = scores.detach().topk(k).indices
    return torch.zeros_like(scores).index_fill_(0, best, 1.0)


@attrs.define
class TopK(SampleWeighting):
    """Top-k training (Sinha et al. 2020): the generator learns only from the k fakes the critic scores best.

    k starts at the batch size and shrinks by --topk-gamma each epoch, down to --topk-min of the batch.
    Needs a loss with per-sample values: it recommends --loss-per-sample, which the built-in vanilla and
    gan-losses' hinge understand; with any other loss the run stops before it starts, with one line.
    """

    name = "topk"
    # per-sample generator losses from the losses that can give them (vanilla, hinge); the flag
    # --no-loss-per-sample still wins, and a loss without the option is refused by the engine
    recommends: ClassVar[dict[str, Any]] = {"options": {"loss_per_sample": True}}
    # under torchrun each process would keep the k best of its own share, not of the global batch
    data_parallel_refusal: ClassVar[str] = (
        "it keeps the k best-scored samples of the batch, and each process would see only its share of it"
    )

    topk_gamma: float = option(
        0.99, help="k is multiplied by this factor each epoch (Sinha et al.: 0.99)", validator=_fraction
    )
    topk_min: float = option(
        0.5, help="k never drops below this fraction of the batch (nu; 0.5 here)", validator=_fraction
    )

    def generator_weights(self, ctx: GeneratorStepContext) -> Tensor:
        scores = ctx.fake_out
        k = top_k(scores.shape[0], ctx.epoch, self.topk_gamma, self.topk_min)  # Python ints: no host read
        return top_k_mask(scores, k)
