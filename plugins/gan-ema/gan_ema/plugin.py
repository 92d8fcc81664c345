"""The entry point gancore loads (group ``gancore``): the EMA callback."""

from __future__ import annotations

from gan_ema.ema import EMA
from gancore import hookimpl


@hookimpl
def gancore_callbacks() -> list[type]:
    return [EMA]
