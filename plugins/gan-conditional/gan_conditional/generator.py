"""The reports' fixed MLP generator told which class to draw: G(z, y) of a conditional GAN.

Mirza & Osindero, *Conditional Generative Adversarial Nets* (2014): the generator takes the class y
beside the latent code z. Here y enters as a one-hot vector concatenated to z, and the rest is the
reports' generator unchanged (latent-256-512-1024-out, LeakyReLU(0.2), tanh for images).

Why one-hot rather than a learned embedding of some size e: the first layer sees

    W [z; onehot(y)] + b = W_z z + W_y[:, y] + b,

a learned bias of the first hidden layer per class (256 numbers each). A learned embedding e_y of any
size concatenated instead gives W_z z + W_e e_y + b: the same per-class bias, constrained to a rank-e
subspace, so it can express nothing more and adds a size to choose; the one-hot costs K extra inputs
(2,560 weights for MNIST). It is computed as that embedding lookup (``nn.Embedding(K, 256)`` added to
the first layer's output), which equals the concatenation exactly, weights and initialisation
included, and needs no one-hot tensor.
"""

from __future__ import annotations

import itertools
from typing import ClassVar

import attrs
import torch
from torch import Tensor, nn

from gancore import ConfigError, DataSpec, Network

#: the reports' generator: latent-256-512-1024-out
WIDTHS = (256, 512, 1024)


def require_classes(kind: str, name: str, spec: DataSpec) -> int:
    """The data's number of classes; one line when it has none (the engine refuses it first)."""
    if not spec.num_classes:
        raise ConfigError(
            f"{kind} {name!r} is conditional: it needs data with class labels (mnist, ring8, ...)"
        )
    return int(spec.num_classes)


class OneHotInput(nn.Module):
    """``Linear(latent_dim + K, width)`` applied to ``[z; onehot(y)]``, computed as W_z z + W_y[:, y] + b."""

    def __init__(self, latent_dim: int, num_classes: int, width: int) -> None:
        super().__init__()
        whole = nn.Linear(latent_dim + num_classes, width)  # initialised as the concatenation's layer
        self.z = nn.Linear(latent_dim, width)
        self.y = nn.Embedding(num_classes, width)
        with torch.no_grad():
            self.z.weight.copy_(whole.weight[:, :latent_dim])
            self.z.bias.copy_(whole.bias)
            self.y.weight.copy_(whole.weight[:, latent_dim:].t())

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        return self.z(z) + self.y(labels)


class ConditionalMLPModule(nn.Module):
    """G(z, y): [z; onehot(y)]-256-512-1024-out, LeakyReLU(0.2), tanh for images."""

    def __init__(self, latent_dim: int, num_classes: int, out: int, image: bool) -> None:
        super().__init__()
        self.input = OneHotInput(latent_dim, num_classes, WIDTHS[0])
        sizes = (*WIDTHS, out)
        layers: list[nn.Module] = [nn.LeakyReLU(0.2)]
        for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            layers.append(nn.Linear(n_in, n_out))
            if i < len(sizes) - 2:
                layers.append(nn.LeakyReLU(0.2))
        if image:
            layers.append(nn.Tanh())
        self.rest = nn.Sequential(*layers)

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        return self.rest(self.input(z, labels))


@attrs.define
class ConditionalMLP(Network):
    """The reports' fixed MLP generator with the class as a one-hot input beside z (Mirza & Osindero 2014)."""

    name = "cmlp"
    conditional: ClassVar[bool] = True  # called as module(z, labels)

    def build(self, spec: DataSpec, latent_dim: int) -> nn.Module:
        classes = require_classes("generator", self.name, spec)
        return ConditionalMLPModule(latent_dim, classes, spec.numel, spec.kind == "image")
