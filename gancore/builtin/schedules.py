"""Learning-rate schedules: the configured rates for the whole run, or a cosine decay over it."""

from __future__ import annotations

import math

import attrs

from gancore import LRSchedule, option


@attrs.define
class Constant(LRSchedule):
    """The configured --lr-g and --lr-d throughout."""

    name = "constant"

    def factor(self, epoch: int, epochs: int) -> float:
        return 1.0


@attrs.define
class Cosine(LRSchedule):
    """Cosine decay over the run (Loshchilov & Hutter 2017, without restarts), per epoch: from the
    configured rates at epoch 0 toward ``cosine_floor`` times them at the run's end, as torch's
    ``CosineAnnealingLR`` with ``T_max`` the run's epochs."""

    name = "cosine"
    cosine_floor: float = option(
        0.0,
        help="the factor the rates decay to at the run's end",
        validator=[attrs.validators.ge(0.0), attrs.validators.le(1.0)],
    )

    def factor(self, epoch: int, epochs: int) -> float:
        floor = self.cosine_floor
        return floor + (1 - floor) * (1 + math.cos(math.pi * epoch / max(epochs, 1))) / 2
