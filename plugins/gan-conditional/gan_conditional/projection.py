"""The projection critic: Miyato & Koyama, *cGANs with Projection Discriminator*, ICLR 2018.

The critic of a conditional GAN must judge whether x is a real sample of class y. Concatenating y to
x (or to a hidden layer) lets the critic ignore it; the paper derives the form the optimal critic
takes instead: its logit is log p(y|x) q(x) / q(y|x) p(x) (real vs generated, given y), and with
log-linear class models p(y|x), q(y|x) on features φ(x) this is

    D(x, y) = ψ(φ(x)) + <V_y, φ(x)>

an unconditional score ψ of the features plus their inner product with a learned embedding V_y of
the class: the class *projects* the features. It measured better Inception scores and intra-FID than
concatenation and than the auxiliary-classifier loss (AC-GAN) on CIFAR-10 and ImageNet.

The paper's critics are spectrally normalized, embedding included (Miyato et al. 2018), and trained
with the hinge loss and Adam(2e-4, betas 0/0.9), five critic steps per generator step; the critics
here recommend that optimizer setting and normalize by default (``--no-projection-sn`` drops it). The
hinge loss comes from gan-losses (``--loss hinge``).

φ here is one of gancore's critics without its last layer: ``projection`` the reports' MLP critic
(in-1024-512-256, LeakyReLU(0.2)), ``projection-conv`` report 002's conv critic (``conv-002``: four
strided 3x3 blocks of 16-128 filters); ``--dropout`` applies as in those.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, ClassVar

import attrs
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from gan_conditional.generator import require_classes
from gancore import ConfigError, DataSpec, Network, option

_unit = attrs.validators.and_(attrs.validators.ge(0.0), attrs.validators.lt(1.0))

#: the paper's optimizer: Adam(2e-4, betas 0/0.9), five critic steps per generator step
RECOMMENDS: dict[str, Any] = {"lr_d": 2e-4, "lr_g": 2e-4, "beta1": 0.0, "beta2": 0.9, "n_critic": 5}


class ProjectionCritic(nn.Module):
    """D(x, y) = ψ(φ(x)) + <V_y, φ(x)>: ``features`` is φ (to ``feature_dim`` values), ``psi`` a linear
    score, ``embed`` the class embedding V (initialised Glorot-uniform, as the paper's code does)."""

    def __init__(self, features: nn.Module, feature_dim: int, num_classes: int) -> None:
        super().__init__()
        self.features = features
        self.psi = nn.Linear(feature_dim, 1)
        self.embed = nn.Embedding(num_classes, feature_dim)
        nn.init.xavier_uniform_(self.embed.weight)

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        h = self.features(x)
        return self.psi(h).squeeze(1) + (self.embed(labels) * h).sum(1)


def normalized(critic: nn.Module) -> nn.Module:
    """Every Linear, Conv and Embedding weight divided by its largest singular value (Miyato et al. 2018),
    estimated by one power iteration per training forward pass."""
    for module in list(critic.modules()):
        if isinstance(module, nn.Linear | nn.Conv2d | nn.Embedding):
            spectral_norm(module)
    return critic


def _act(dropout: float) -> list[nn.Module]:
    return [nn.LeakyReLU(0.2)] + ([nn.Dropout(dropout)] if dropout > 0 else [])


def mlp_features(n_in: int, dropout: float, widths: tuple[int, ...] = (1024, 512, 256)) -> nn.Sequential:
    """φ of the reports' MLP critic: in-1024-512-256, LeakyReLU(0.2) (and dropout) after each layer."""
    layers: list[nn.Module] = [nn.Flatten()]
    for a, b in itertools.pairwise((n_in, *widths)):
        layers += [nn.Linear(a, b), *_act(dropout)]
    return nn.Sequential(*layers)


def conv_features(shape: tuple[int, ...], dropout: float) -> tuple[nn.Sequential, int]:
    """φ of report 002's conv critic (conv-002): four strided 3x3 blocks of 16 to 128 filters, flattened."""
    channels, height, width = shape
    layers: list[nn.Module] = []
    for filters in (16, 32, 64, 128):
        layers += [nn.Conv2d(channels, filters, 3, stride=2, padding=1), *_act(dropout)]
        channels, height, width = filters, math.ceil(height / 2), math.ceil(width / 2)
    return nn.Sequential(*layers, nn.Flatten()), channels * height * width


@attrs.define
class Projection(Network):
    """Projection critic (Miyato & Koyama 2018) on the MLP critic's features: ψ(φ(x)) + <V_y, φ(x)>."""

    name = "projection"
    conditional: ClassVar[bool] = True  # called as module(x, labels)
    recommends: ClassVar[dict[str, Any]] = RECOMMENDS
    dropout: float = option(0.0, help="dropout probability in the critic's hidden layers", validator=_unit)
    projection_sn: bool = option(True, help="spectral normalization of every layer, embedding included")

    def build(self, spec: DataSpec, latent_dim: int) -> nn.Module:
        classes = require_classes("critic", self.name, spec)
        critic = ProjectionCritic(mlp_features(spec.numel, self.dropout), 256, classes)
        return normalized(critic) if self.projection_sn else critic


@attrs.define
class ProjectionConv(Network):
    """Projection critic (Miyato & Koyama 2018) on the conv critic's features, for images."""

    name = "projection-conv"
    conditional: ClassVar[bool] = True
    recommends: ClassVar[dict[str, Any]] = RECOMMENDS
    dropout: float = option(0.0, help="dropout probability after each conv block", validator=_unit)
    projection_sn: bool = option(True, help="spectral normalization of every layer, embedding included")

    def build(self, spec: DataSpec, latent_dim: int) -> nn.Module:
        classes = require_classes("critic", self.name, spec)
        if spec.kind != "image":
            raise ConfigError("critic 'projection-conv' needs image data; use --critic projection for points")
        features, dim = conv_features(spec.shape, self.dropout)
        critic = ProjectionCritic(features, dim, classes)
        return normalized(critic) if self.projection_sn else critic
