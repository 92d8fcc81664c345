"""The entry point gancore loads (group ``gancore``): the R1 and R2 gradient penalties."""

from __future__ import annotations

from gan_penalties.penalties import R1, R2
from gancore import hookimpl


@hookimpl
def gancore_regularizers() -> list[type]:
    return [R1, R2]
