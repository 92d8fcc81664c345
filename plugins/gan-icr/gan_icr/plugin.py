"""The entry point gancore loads (group ``gancore``): consistency regularizers and augmentations."""

from __future__ import annotations

from gan_icr.augment import Color, Cutout, Flip, Translation
from gan_icr.consistency import BalancedConsistency, ImprovedConsistency, LatentConsistency
from gancore import hookimpl


@hookimpl
def gancore_regularizers() -> list[type]:
    return [BalancedConsistency, LatentConsistency, ImprovedConsistency]


@hookimpl
def gancore_augmentations() -> list[type]:
    return [Flip, Translation, Cutout, Color]
