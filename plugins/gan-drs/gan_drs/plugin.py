"""The entry point gancore loads (group ``gancore``): the drs, mh, threshold and interp samplers."""

from __future__ import annotations

from gan_drs.drs import DiscriminatorRejection
from gan_drs.mh import MetropolisHastings
from gan_drs.simple import Interpolation, Threshold
from gancore import hookimpl


@hookimpl
def gancore_samplers() -> list[type]:
    return [DiscriminatorRejection, MetropolisHastings, Threshold, Interpolation]
