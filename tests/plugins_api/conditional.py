"""A class-conditional GAN for the 2-D toys, written against gancore's public API alone: a generator
G(z, y) and a projection critic D(x, y) (Miyato & Koyama 2018), plus a regularizer that records the
labels each step hands it.

The tests register it at run time (``register_plugin(conditional, "conditional")``); as a package it would
declare ``[project.entry-points.gancore] conditional = "conditional"``.
"""

from __future__ import annotations

from typing import ClassVar

import attrs
import torch
from torch import Tensor, nn

from gancore import (
    CriticStepContext,
    DataSpec,
    GeneratorStepContext,
    Network,
    Regularizer,
    hookimpl,
    option,
)

_positive = attrs.validators.gt(0)


def _mlp(n_in: int, width: int, n_out: int, act: type[nn.Module]) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(n_in, width), act(), nn.Linear(width, width), act(), nn.Linear(width, n_out)
    )


class ConditionedGenerator(nn.Module):
    """G(z, y): the latent code next to a learned embedding of the class (tanh for images)."""

    def __init__(self, latent_dim: int, num_classes: int, out: int, width: int, image: bool = False) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_classes, 16)
        self.net = _mlp(latent_dim + 16, width, out, nn.ReLU)
        if image:
            self.net.append(nn.Tanh())

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        return self.net(torch.cat([z, self.embed(labels)], 1))


class ProjectionCritic(nn.Module):
    """D(x, y) = w . h(x) + e_y . h(x): a plain score plus the projection on the class's embedding."""

    def __init__(self, n_in: int, num_classes: int, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), _mlp(n_in, width, width, nn.LeakyReLU), nn.LeakyReLU())
        self.head = nn.Linear(width, 1)
        self.embed = nn.Embedding(num_classes, width)

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        h = self.body(x)
        return self.head(h).squeeze(1) + (self.embed(labels) * h).sum(1)


@attrs.define
class CondToyGenerator(Network):
    """G(z, y) for the 2-D toys: z next to an embedding of the class y, then an MLP."""

    name = "cond-toy"
    conditional: ClassVar[bool] = True
    cond_width: int = option(64, help="hidden width of the conditional toy networks", validator=_positive)

    def build(self, spec: DataSpec, latent_dim: int) -> nn.Module:
        return ConditionedGenerator(
            latent_dim, spec.num_classes, spec.numel, self.cond_width, spec.kind == "image"
        )


@attrs.define
class CondToyCritic(Network):
    """A projection critic D(x, y) for the 2-D toys."""

    name = "cond-toy"
    conditional: ClassVar[bool] = True
    cond_width: int = option(64, help="hidden width of the conditional toy networks", validator=_positive)

    def build(self, spec: DataSpec, latent_dim: int) -> nn.Module:
        return ProjectionCritic(spec.numel, spec.num_classes, self.cond_width)


#: what ``LabelSpy`` saw, one (step kind, real batch, real labels, fake labels) per call
SEEN: list[tuple[str, Tensor, Tensor | None, Tensor | None]] = []


@attrs.define
class LabelSpy(Regularizer):
    """Adds nothing; keeps (references to) the labels each step's context carries, for the tests."""

    name = "label-spy"

    def critic_term(self, ctx: CriticStepContext) -> None:
        SEEN.append(("critic", ctx.real, ctx.real_labels, ctx.fake_labels))

    def generator_term(self, ctx: GeneratorStepContext) -> None:
        SEEN.append(("generator", ctx.real, ctx.real_labels, ctx.fake_labels))


@hookimpl
def gancore_generators() -> list[type]:
    return [CondToyGenerator]


@hookimpl
def gancore_critics() -> list[type]:
    return [CondToyCritic]


@hookimpl
def gancore_regularizers() -> list[type]:
    return [LabelSpy]
