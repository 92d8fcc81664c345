"""The reports' networks: the fixed MLP generator, MLP and conv critics, and a small pair for 2D toys."""

from __future__ import annotations

import itertools
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


def _norm_layer(norm: str, channels: int) -> list[nn.Module]:
    """The normalization after a conv block's convolution. "layer" normalizes each sample over its
    channels and positions (GroupNorm with one group): unlike "batch", it keeps the critic's output for
    one sample independent of the others, which a gradient penalty per sample assumes (Gulrajani et
    al. 2017, section 4)."""
    if norm == "layer":
        return [nn.GroupNorm(1, channels)]
    if norm == "batch":
        return [nn.BatchNorm2d(channels)]
    if norm == "instance":
        return [nn.GroupNorm(channels, channels)]
    return []


NORMS = ("none", "layer", "batch", "instance")


def _one_of(*choices: str):
    def check(instance: object, attribute: attrs.Attribute, value: str) -> None:
        if value not in choices:
            flag = "--" + attribute.name.replace("_", "-")
            raise ValueError(f"{flag} must be one of {', '.join(choices)}; got {value!r}")

    return check


# the conv critics' shape options, declared once: conv-002 only gives them other defaults
def _conv_width(default: int):
    return option(
        default,
        help="filters of the first conv block (each next block doubles them)",
        validator=attrs.validators.gt(0),
    )


def _conv_depth(default: int):
    return option(default, help="number of strided conv blocks", validator=attrs.validators.ge(1))


def _conv_kernel(default: int):
    return option(default, help="kernel size of the convolutions", validator=attrs.validators.ge(1))


@attrs.define
class ConvCritic(Network):
    """Strided conv blocks (conv, normalization, LeakyReLU(0.2)) doubling the filters, then a linear score.

    The defaults are the conv critic that trained the fixed MLP generator best under WGAN-GP in the
    search of docs/results.md; ``conv-002`` is report 002's own (four 3x3 blocks of 16 to 128 filters,
    no normalization).
    """

    name = "conv"
    conv_width: int = _conv_width(32)
    conv_depth: int = _conv_depth(3)
    conv_kernel: int = _conv_kernel(4)
    conv_norm: str = option(
        "none", help="normalization after each conv: " + ", ".join(NORMS), validator=_one_of(*NORMS)
    )
    dropout: float = option(0.0, help="dropout probability after each conv block", validator=_unit)

    def build(self, spec: DataSpec, latent_dim: int) -> nn.Module:
        if spec.kind != "image":
            raise ConfigError(f"critic {self.name!r} needs image data; use --critic mlp or toy for points")
        channels, height, width = spec.shape
        layers: list[nn.Module] = []
        pad = (self.conv_kernel - 1) // 2
        for block in range(self.conv_depth):
            filters = self.conv_width * 2**block
            # the first block is never normalized: its input is the image itself (as in DCGAN)
            norm = _norm_layer(self.conv_norm, filters) if block > 0 else []
            layers += [nn.Conv2d(channels, filters, self.conv_kernel, stride=2, padding=pad), *norm]
            layers.append(nn.LeakyReLU(0.2))
            if self.dropout > 0:
                layers.append(nn.Dropout(self.dropout))
            channels = filters
            height = (height + 2 * pad - self.conv_kernel) // 2 + 1
            width = (width + 2 * pad - self.conv_kernel) // 2 + 1
            if height < 1 or width < 1:
                raise ConfigError(
                    f"critic {self.name!r}: {self.conv_depth} blocks of kernel {self.conv_kernel} shrink a"
                    f" {spec.shape[1]}x{spec.shape[2]} image to nothing; use a smaller --conv-depth"
                )
        layers += [nn.Flatten(), nn.Linear(channels * height * width, 1)]
        return nn.Sequential(*layers)


@attrs.define
class ReportConvCritic(ConvCritic):
    """Report 002's conv critic exactly: four strided 3x3 conv blocks of 16, 32, 64, 128 filters,
    LeakyReLU(0.2), no normalization, then a linear score."""

    name = "conv-002"
    conv_width: int = _conv_width(16)
    conv_depth: int = _conv_depth(4)
    conv_kernel: int = _conv_kernel(3)


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
