"""Report 000's learning-rate ramp for the unstable f-GAN KL: alpha/100, then alpha/10, then alpha."""

from __future__ import annotations

import attrs

from gancore import LRSchedule, option


@attrs.define
class DecadeWarmup(LRSchedule):
    """Learning rates raised tenfold each epoch up to their value: x1/100, x1/10, then x1 (report 000).

    With ``--warmup-epochs K`` epoch e < K runs at 10^-(K-e) of the configured rate. A function of
    the epoch alone, so a resumed run follows it exactly.
    """

    name = "decade-warmup"
    warmup_epochs: int = option(
        2, help="epochs below the full rate, each ten times the last", validator=attrs.validators.ge(0)
    )

    def factor(self, epoch: int, epochs: int = 0) -> float:  # the run's length does not matter
        return 10.0 ** -(self.warmup_epochs - epoch) if epoch < self.warmup_epochs else 1.0
