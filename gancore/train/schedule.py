"""Per-epoch schedules of component options: ``--schedule ms_weight=+0.01/10ep``.

Any numeric option of a loss, regularizer, critic step, monitor, prior or sampler can follow a
schedule: its value at epoch e (0-based) is ``start + delta * (e // every)``, where ``start`` is the
option's resolved value. The value is a plain Python number set between steps, so the step never
waits on the host, and it is a function of the epoch alone, so a resumed run follows it exactly.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from gancore.errors import ConfigError

_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_CHANGE = re.compile(r"^(?P<delta>[+-][0-9.]+(?:e[+-]?[0-9]+)?)/(?P<every>[0-9]+)ep$")


@attrs.frozen
class Schedule:
    name: str
    delta: float
    every: int

    def value(self, start: float, epoch: int) -> float:
        return start + self.delta * (epoch // self.every)


def parse(text: str) -> Schedule:
    """``NAME=+DELTA/Nep`` (e.g. ``ms_weight=+0.01/10ep``) or one ConfigError line."""
    name, _, change = text.strip().partition("=")
    name = name.replace("-", "_")  # the flag spelling (ms-weight) works too
    match = _CHANGE.match(change)
    if not _NAME.match(name) or match is None or int(match["every"]) < 1:
        raise ConfigError(
            f"--schedule {text!r}: expected OPTION=+DELTA/Nep, e.g. ms_weight=+0.01/10ep (N >= 1)"
        )
    try:
        delta = float(match["delta"])
    except ValueError:
        raise ConfigError(f"--schedule {text!r}: {match['delta']!r} is not a number") from None
    return Schedule(name, delta, int(match["every"]))


def apply(schedules: list[Schedule], components: list[Any], options: dict[str, Any], epoch: int) -> dict:
    """Set every scheduled option on the components that have it; returns {name: value}."""
    values = {}
    for schedule in schedules:
        value = schedule.value(options[schedule.name], epoch)
        for component in components:
            if hasattr(component, schedule.name):
                setattr(component, schedule.name, type(options[schedule.name])(value))
        values[schedule.name] = value
    return values


def check(schedules: list[Schedule], components: list[Any], options: dict[str, Any]) -> None:
    """Each scheduled option must be a numeric option of a component the run uses."""
    for schedule in schedules:
        owners = [c for c in components if attrs.has(type(c)) and hasattr(c, schedule.name)]
        if schedule.name not in options or not owners:
            raise ConfigError(
                f"--schedule {schedule.name}: no component of this run has an option {schedule.name!r}"
                " (`gan plugins show NAME` lists options)"
            )
        if type(options[schedule.name]) not in (int, float):
            raise ConfigError(f"--schedule {schedule.name}: the option is not a number")
