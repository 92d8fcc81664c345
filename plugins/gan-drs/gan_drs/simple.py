"""Two simpler samplers of report 003: keep the critic's favourites, and interpolate latent codes."""

from __future__ import annotations

import math

import attrs
import torch
from torch import Tensor

from gancore import GANModel, Sampler, option


@attrs.define
class Threshold(Sampler):
    """Keep the generated samples whose critic score is in the top (1 - threshold_quantile) of a batch."""

    name = "threshold"
    threshold_quantile: float = option(
        0.5,
        help="fraction of each candidate batch rejected (lowest critic scores); 0.5 keeps the top half",
        validator=[attrs.validators.ge(0.0), attrs.validators.lt(1.0)],
    )

    @torch.no_grad()
    def sample(self, model: GANModel, n: int, batch_size: int = 1000) -> Tensor:
        keep = 1.0 - self.threshold_quantile
        parts, have = [], 0
        while have < n:
            want = n - have
            # enough candidates that their top `keep` fraction is what is still wanted (one batch at most)
            candidates = min(batch_size, max(1, math.ceil(want / keep)))
            k = min(want, max(1, math.floor(candidates * keep)))
            labels = model.labels(candidates)  # a conditional model: uniform classes, None otherwise
            x = model.generate(model.latent(candidates), labels)
            # any loss: a higher raw critic output means "more real" (Loss.threshold separates the two)
            best = model.score_clean(x, labels).topk(k).indices
            parts.append(x[best])
            have += k
        return torch.cat(parts)


@attrs.define
class Interpolation(Sampler):
    """G(a z1 + (1 - a) z2), z1, z2 from the run's prior, a ~ U(0, 1) per sample."""

    name = "interp"

    @torch.no_grad()
    def sample(self, model: GANModel, n: int, batch_size: int = 1000) -> Tensor:
        parts = []
        for start in range(0, n, batch_size):
            m = min(batch_size, n - start)
            z1, z2 = model.latent(m), model.latent(m)
            a = torch.rand(m, *([1] * (z1.dim() - 1)), device=z1.device, dtype=z1.dtype)
            parts.append(model.generate(a * z1 + (1 - a) * z2, model.labels(m)))  # None: unconditional
        return torch.cat(parts)
