"""The entry point gancore loads (group ``gancore``): the conditional generator and projection critics."""

from __future__ import annotations

from gan_conditional.generator import ConditionalMLP
from gan_conditional.projection import Projection, ProjectionConv
from gancore import hookimpl


@hookimpl
def gancore_generators() -> list[type]:
    return [ConditionalMLP]


@hookimpl
def gancore_critics() -> list[type]:
    return [Projection, ProjectionConv]
