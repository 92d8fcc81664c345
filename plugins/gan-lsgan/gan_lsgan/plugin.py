"""The entry point gancore loads (group ``gancore``): the LSGAN losses and cn-lsgan's two terms."""

from __future__ import annotations

from gan_lsgan.losses import CNLSGAN, LSGAN
from gan_lsgan.regularizers import CNGradientPenalty, CNL2Pull
from gancore import hookimpl


@hookimpl
def gancore_losses() -> list[type]:
    return [LSGAN, CNLSGAN]


@hookimpl
def gancore_regularizers() -> list[type]:
    return [CNGradientPenalty, CNL2Pull]
