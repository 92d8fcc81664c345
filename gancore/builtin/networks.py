"""The reports' networks: the fixed MLP generator, MLP and conv critics, and a small pair for 2D toys."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import attrs
from torch import nn

from gancore import ConfigError, DataSpec, Network, option

_unit = attrs.validators.and_(attrs.validators.ge(0.0), attrs.validators.lt(1.0))


def mlp(sizes: Sequence[int], act: type[nn.Module], dropout: float = 0.0, **act_kw) -> nn.Sequential:
    """Linear layers with ``act`` (and dropout) between them, none after the last."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(act(**act_kw))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


@attrs.define
class MLPGenerator(Network):
    """The reports' fixed generator: latent-256-512-1024-out, LeakyReLU(0.2), tanh for images."""

    name = "mlp"

    def build(self, spec: DataSpec, latent_dim: int) -> nn.Module:
        net = mlp([latent_dim, 256, 512, 1024, spec.numel], nn.LeakyReLU, negative_slope=0.2)
        if spec.kind == "image":
            net.append(nn.Tanh())
        return net


@attrs.define
class MLPCritic(Network):
    """in-1024-512-256-1 with LeakyReLU(0.2) and optional dropout after each hidden layer."""

    name = "mlp"
    dropout: float = option(0.0, help="dropout probability in the critic's hidden layers", validator=_unit)

    def build(self, spec: DataSpec, latent_dim: int) -> nn.Module:
        return nn.Sequential(
            nn.Flatten(),
            mlp([spec.numel, 1024, 512, 256, 1], nn.LeakyReLU, self.dropout, negative_slope=0.2),
        )


@attrs.define
class ConvCritic(Network):
    """Four strided 3x3 conv blocks of 16, 32, 64, 128 filters, LeakyReLU(0.2), then a linear score."""

    name = "conv"
    dropout: float = option(0.0, help="dropout probability after each conv block", validator=_unit)

    def build(self, spec: DataSpec, latent_dim: int) -> nn.Module:
        if spec.kind != "image":
            raise ConfigError("critic 'conv' needs image data; use --critic mlp or toy for points")
        channels, height, width = spec.shape
        layers: list[nn.Module] = []
        for filters in (16, 32, 64, 128):
            layers += [nn.Conv2d(channels, filters, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
            if self.dropout > 0:
                layers.append(nn.Dropout(self.dropout))
            channels = filters
            height, width = math.ceil(height / 2), math.ceil(width / 2)
        layers += [nn.Flatten(), nn.Linear(channels * height * width, 1)]
        return nn.Sequential(*layers)


@attrs.define
class ToyGenerator(Network):
    """A small MLP for 2D toys: latent-W-W-W-out with ReLU, linear output."""

    name = "toy"
    toy_width: int = option(128, help="hidden width of the toy networks", validator=attrs.validators.gt(0))

    def build(self, spec: DataSpec, latent_dim: int) -> nn.Module:
        w = self.toy_width
        return mlp([latent_dim, w, w, w, spec.numel], nn.ReLU)


@attrs.define
class ToyCritic(Network):
    """A small MLP critic for 2D toys: in-W-W-W-1 with LeakyReLU(0.2)."""

    name = "toy"
    toy_width: int = option(128, help="hidden width of the toy networks", validator=attrs.validators.gt(0))

    def build(self, spec: DataSpec, latent_dim: int) -> nn.Module:
        w = self.toy_width
        return nn.Sequential(nn.Flatten(), mlp([spec.numel, w, w, w, 1], nn.LeakyReLU, negative_slope=0.2))
