"""The vanilla GAN loss (Goodfellow et al. 2014), written on logits with softplus."""

from __future__ import annotations

import attrs
import torch.nn.functional as F
from torch import Tensor

from gancore import Loss, option


@attrs.define
class Vanilla(Loss):
    """Binary cross-entropy on logits; non-saturating generator loss unless --saturating."""

    name = "vanilla"
    saturating: bool = option(False, help="generator minimises log(1 - D(G(z))), the original minimax form")

    def critic_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        # -log sigmoid(r) - log(1 - sigmoid(f)) == softplus(-r) + softplus(f)
        return F.softplus(-real_out).mean() + F.softplus(fake_out).mean()

    def generator_loss(self, fake_out: Tensor) -> Tensor:
        if self.saturating:
            # log(1 - sigmoid(f)) == -softplus(f)
            return -F.softplus(fake_out).mean()
        return F.softplus(-fake_out).mean()

    def logit(self, out: Tensor) -> Tensor:
        return out
