"""The plain critic step: an optimizer step and nothing else."""

from __future__ import annotations

import attrs

from gancore import CriticStep


@attrs.define
class PlainStep(CriticStep):
    """An optimizer step, no constraint on the critic."""

    name = "plain"
