"""The vanilla GAN loss (Goodfellow et al. 2014), written on logits with softplus."""

from __future__ import annotations

import attrs
import torch.nn.functional as F
from torch import Tensor

from gancore import Loss, option


@attrs.define
class Vanilla(Loss):
    """Binary cross-entropy on logits; non-saturating generator loss unless --saturating.

    ``--loss-per-sample`` (off by default, and set by weightings such as gan-topk's ``topk`` through
    their recommendations) returns one value per sample, whose mean is the loss above: sample i's
    critic loss is ``softplus(-r_i) + softplus(f_i)``. Off, the loss is computed op for op as before.
    """

    name = "vanilla"
    saturating: bool = option(False, help="generator minimises log(1 - D(G(z))), the original minimax form")
    loss_per_sample: bool = option(
        False, help="return one loss value per sample (what --weighting needs); their mean is the same loss"
    )

    @property
    def per_sample(self) -> bool:  # type: ignore[override]  # an option here, a class constant in Loss
        return self.loss_per_sample

    def critic_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        # -log sigmoid(r) - log(1 - sigmoid(f)) == softplus(-r) + softplus(f)
        if self.loss_per_sample:
            return F.softplus(-real_out) + F.softplus(fake_out)
        return F.softplus(-real_out).mean() + F.softplus(fake_out).mean()

    def generator_loss(self, fake_out: Tensor) -> Tensor:
        if self.loss_per_sample:
            return -F.softplus(fake_out) if self.saturating else F.softplus(-fake_out)
        if self.saturating:
            # log(1 - sigmoid(f)) == -softplus(f)
            return -F.softplus(fake_out).mean()
        return F.softplus(-fake_out).mean()

    def logit(self, out: Tensor) -> Tensor:
        return out
