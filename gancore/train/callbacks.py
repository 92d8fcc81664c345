"""A run's callbacks outside the step: setting them up, the generator they give to sample, their state.

Inside the step the steps call ``after_critic_step``/``after_generator_step`` themselves; the loop
calls ``on_start``/``on_epoch_end``/``on_run_end``/``on_metrics``/``on_grid`` through ``notify``.
What is saved: each callback's ``state_dict()`` under ``callback.<name>.``, and the sampled
generator's weights (when a callback gives one) under ``sampled_generator.``, so ``gan sample``
needs no callback code to use them.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from gancore.errors import ConfigError
from gancore.io.checkpoint import SAMPLED
from gancore.records import RunProgress
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
