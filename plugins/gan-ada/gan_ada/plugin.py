"""The entry point gancore loads (group ``gancore``): the ADA augmentation and the callback steering it."""

from __future__ import annotations

from gan_ada.ada import AdaAugment, AdaController
from gancore import hookimpl


@hookimpl
def gancore_augmentations() -> list[type]:
    return [AdaAugment]


@hookimpl
def gancore_callbacks() -> list[type]:
    return [AdaController]
