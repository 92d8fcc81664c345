"""A static Gaussian-mixture latent prior (report 001): K unit Gaussians centred on a circle."""

from __future__ import annotations

import math

import attrs
import torch
from torch import Tensor

from gancore import ConfigError, Prior, option


def circle_means(
    components: int, radius: float, latent_dim: int, device: torch.device | None = None
) -> Tensor:
    """(K, latent_dim) means: radius * (cos 2πk/K, sin 2πk/K) in the first two dimensions, 0 elsewhere."""
    angles = torch.arange(components, dtype=torch.float64, device=device) * (2 * math.pi / components)
    circle = radius * torch.stack([angles.cos(), angles.sin()], 1)
    rest = torch.zeros(components, latent_dim - 2, dtype=torch.float64, device=device)
    return torch.cat([circle, rest], 1).float()


@attrs.define
class GaussianMixture(Prior):
    """z ~ (1/K) sum_k N(mu_k, I), mu_k on a circle of radius gmm_radius in the first two dimensions."""

    name = "gmm"
    gmm_components: int = option(8, help="number of mixture components K", validator=attrs.validators.ge(1))
    gmm_radius: float = option(
        2.0, help="radius of the circle the component means lie on", validator=attrs.validators.ge(0)
    )
    _means: dict = attrs.field(factory=dict, init=False, repr=False)  # one tensor per (K, r, dim, device)

    def sample(
        self, n: int, latent_dim: int, device: torch.device, generator: torch.Generator | None = None
    ) -> Tensor:
        if latent_dim < 2:
            raise ConfigError(
                f"prior gmm needs --latent-dim >= 2 (its means lie in two dimensions), got {latent_dim}"
            )
        key = (self.gmm_components, self.gmm_radius, latent_dim, str(device))
        if key not in self._means:  # made on the device itself: no host-to-device copy per step
            self._means[key] = circle_means(self.gmm_components, self.gmm_radius, latent_dim, device)
        means = self._means[key]
        which = torch.randint(self.gmm_components, (n,), device=device, generator=generator)
        return torch.randn(n, latent_dim, device=device, generator=generator) + means[which]
