"""The entry point gancore loads (group ``gancore``): seven f-divergence losses and report 000's
learning-rate ramp."""

from __future__ import annotations

from gan_fgan.losses import LOSSES
from gan_fgan.schedules import DecadeWarmup
from gancore import hookimpl


@hookimpl
def gancore_losses() -> list[type]:
    return list(LOSSES)


@hookimpl
def gancore_lr_schedules() -> list[type]:
    return [DecadeWarmup]
