"""The constant learning-rate schedule: the configured rates for the whole run."""

from __future__ import annotations

import attrs

from gancore import LRSchedule


@attrs.define
class Constant(LRSchedule):
    """The configured --lr-g and --lr-d throughout."""

    name = "constant"
