"""The entry point gancore loads (group ``gancore``): the hinge and relativistic average losses."""

from __future__ import annotations

from gan_losses.hinge import Hinge
from gan_losses.relativistic import RaGAN, RaLSGAN
from gancore import hookimpl


@hookimpl
def gancore_losses() -> list[type]:
    return [Hinge, RaGAN, RaLSGAN]
