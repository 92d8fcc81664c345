"""A run's callbacks: setting them up, the events they are told, the generator they give to sample,
their state.

The steps (``steps.py``) call ``after_critic_step``/``after_generator_step`` through ``after_step``,
which passes the step's typed result to a method that names a ``result`` parameter (pluggy's rule:
a hook gets the arguments it names) and collects the metrics it returns; the loop calls
``on_start``/``on_epoch_end``/``on_run_end``/``on_metrics``/``on_grid`` through ``notify``.
What they save (their ``state_dict()``, the generator they give to sample) is laid out in
``state.py``, with the rest of a checkpoint.
"""

from __future__ import annotations

import functools
import inspect
import numbers
from collections.abc import Callable

import torch
from torch import Tensor

from gancore.errors import ConfigError, PluginError
from gancore.records import CriticStepResult, GeneratorStepResult, RunProgress
from gancore.train.pipeline import Pipeline


def setup(pipe: Pipeline) -> None:
    """``setup(model)`` of every callback, then the generator to sample, if one gives it."""
    model = pipe.model
    for _, callback in pipe.callbacks:
        callback.setup(model)
    given = [(name, g) for name, cb in pipe.callbacks if (g := cb.sampled_generator()) is not None]
    if len(given) > 1:
        raise ConfigError(
            f"callbacks {given[0][0]!r} and {given[1][0]!r} both give a generator to sample; select one"
        )
    if given:
        pipe.sampled_by, model.sampled_generator = given[0]


def notify(pipe: Pipeline, method: str, progress: RunProgress, *what: object) -> None:
    """Call ``method`` of every callback, in selection order, with the run's progress and ``what``
    (the metrics row of ``on_metrics``, the picture of ``on_grid``)."""
    for _, callback in pipe.callbacks:
        getattr(callback, method)(progress, *what)


@functools.cache
def takes_result(method: Callable) -> bool:
    """Whether a callback's ``after_*_step`` names a ``result`` parameter (asked once per class)."""
    return "result" in inspect.signature(method).parameters


def after_step(
    pipe: Pipeline, method: str, result: CriticStepResult | GeneratorStepResult
) -> dict[str, Tensor]:
    """``method`` (``after_critic_step`` or ``after_generator_step``) of every callback, in selection
    order, under ``torch.no_grad()``; returns the metrics they gave, as ``<callback>/<key>``, for the
    metrics row's running means (device tensors: nothing is read)."""
    logged: dict[str, Tensor] = {}
    with torch.no_grad():
        for name, callback in pipe.callbacks:
            bound = getattr(callback, method)
            takes = takes_result(getattr(bound, "__func__", bound))  # a staticmethod has no __func__
            given = bound(pipe.model, result=result) if takes else bound(pipe.model)
            if given is None:
                continue
            if not isinstance(given, dict) or not all(_scalar(v) for v in given.values()):
                raise PluginError(
                    f"callback {name!r}: {method} returned {type(given).__name__}; return None or a dict"
                    " of metric name -> a scalar tensor or number, logged in the metrics row as"
                    f" {name}/<name>"
                )
            device = pipe.model.device
            logged |= {
                f"{name}/{k}": torch.as_tensor(v, dtype=torch.float32, device=device)
                for k, v in given.items()
            }
    return logged


def _scalar(value: object) -> bool:
    """A single number: a tensor of one element (its shape says so without a read), or a Python one."""
    if isinstance(value, Tensor):
        return value.numel() == 1
    return isinstance(value, numbers.Real)
