"""The plain sampler: G(z) for z from the prior."""

from __future__ import annotations

import attrs
import torch
from torch import Tensor

from gancore import GANModel, Sampler


@attrs.define
class Plain(Sampler):
    """G(z), z drawn from the run's prior."""

    name = "plain"

    @torch.no_grad()
    def sample(self, model: GANModel, n: int, batch_size: int = 1000) -> Tensor:
        parts = [model.generate(model.latent(min(batch_size, n - i))) for i in range(0, n, batch_size)]
        return torch.cat(parts)
