"""The Lipschitz constraints on the critic: weight clipping (WGAN) and spectral normalization."""

from __future__ import annotations

import attrs
import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from gan_wgan.lipschitz import weight_layers
from gancore import CriticStep, option


def apply_spectral_norm(critic: nn.Module) -> nn.Module:
    """Every Linear/Conv weight reparametrized as W / sigma_max(W) (Miyato et al. 2018), in place."""
    for _, module in list(weight_layers(critic)):
        spectral_norm(module)
    return critic


@attrs.define
class LipschitzStep(CriticStep):
    """Weight clipping after each step (--clip-value c) and/or spectral normalization (--spectral-norm)."""

    name = "lipschitz"
    clip_value: float = option(
        0.0,
        help="clip every critic parameter to [-c, c] after each step (0: off)",
        validator=attrs.validators.ge(0),
    )
    spectral_norm: bool = option(False, help="wrap the critic's Linear/Conv layers in spectral normalization")

    @property
    def weight_constraint(self) -> str | None:
        if self.clip_value <= 0:
            return None
        return f"weight clipping to [-{self.clip_value:g}, {self.clip_value:g}]"

    def prepare(self, critic: nn.Module) -> nn.Module:
        return apply_spectral_norm(critic) if self.spectral_norm else critic

    @torch.no_grad()
    def after_step(self, critic: nn.Module) -> None:
        if self.clip_value > 0:
            for param in critic.parameters():
                param.clamp_(-self.clip_value, self.clip_value)
