"""The entry point gancore loads (group ``gancore``): seven f-divergence losses."""

from __future__ import annotations

from gan_fgan.losses import LOSSES
from gancore import hookimpl


@hookimpl
def gancore_losses() -> list[type]:
    return list(LOSSES)
