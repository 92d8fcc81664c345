"""The entry point gancore loads (group ``gancore``): the mode-seeking regularizer and the gmm prior."""

from __future__ import annotations

from gan_modeseek.modeseek import ModeSeeking
from gan_modeseek.priors import GaussianMixture
from gancore import hookimpl


@hookimpl
def gancore_regularizers() -> list[type]:
    return [ModeSeeking]


@hookimpl
def gancore_priors() -> list[type]:
    return [GaussianMixture]
