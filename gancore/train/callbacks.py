"""A run's callbacks: setting them up, the events they are told, the generator they give to sample,
their state.

The steps (``steps.py``) call ``after_critic_step``/``after_generator_step`` through ``after_step``,
which passes the step's typed result to a method that names a ``result`` parameter (pluggy's rule:
a hook gets the arguments it names) and collects the metrics it returns; the loop calls
``on_start``/``on_epoch_end``/``on_run_end``/``on_metrics``/``on_grid`` through ``notify``.
What is saved: each callback's ``state_dict()`` under ``callback.<name>.``, and the sampled
generator's weights (when a callback gives one) under ``sampled_generator.``, so ``gan sample``
needs no callback code to use them.
"""

from __future__ import annotations

import functools
import inspect
import numbers
from collections.abc import Callable

import torch
from torch import Tensor

from gancore.errors import ConfigError, PluginError
from gancore.io.checkpoint import SAMPLED
from gancore.records import CriticStepResult, GeneratorStepResult, RunProgress
from gancore.train.pipeline import Pipeline

PREFIX = "callback"


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
            given = bound(pipe.model, result=result) if takes_result(bound.__func__) else bound(pipe.model)
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


def state_tensors(pipe: Pipeline) -> tuple[dict[str, Tensor], dict[str, str]]:
    """The tensors and metadata a checkpoint adds for the callbacks; both empty without callbacks."""
    tensors: dict[str, Tensor] = {}
    meta: dict[str, str] = {}
    sampled = pipe.model.sampled_generator
    if sampled is not None:
        tensors |= {f"{SAMPLED}.{k}": v for k, v in sampled.state_dict().items()}
        meta[SAMPLED] = pipe.sampled_by
    for name, callback in pipe.callbacks:
        tensors |= {f"{PREFIX}.{name}.{k}": v for k, v in callback.state_dict().items()}
    return tensors, meta


def state_loaders(pipe: Pipeline) -> dict[str, Callable[[dict[str, Tensor]], None]]:
    """Key prefix -> the callback's ``load_state_dict``, for ``checkpoint.load_all``."""
    return {f"{PREFIX}.{name}": callback.load_state_dict for name, callback in pipe.callbacks}
