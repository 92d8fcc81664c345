"""The standard normal latent prior."""

from __future__ import annotations

import attrs
import torch
from torch import Tensor

from gancore import Prior


@attrs.define
class Normal(Prior):
    """z ~ N(0, I)."""

    name = "normal"

    def sample(
        self, n: int, latent_dim: int, device: torch.device, generator: torch.Generator | None = None
    ) -> Tensor:
        return torch.randn(n, latent_dim, device=device, generator=generator)
