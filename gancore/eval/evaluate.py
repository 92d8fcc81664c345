"""`evaluate()`: a dataset's own evaluation of one set of samples, as the eval.json dict.

The protocol belongs to the dataset (``Dataset.evaluation()``, found through the plugin registry):
images are scored in a feature network's space (``gancore.eval.images``), the 2-D toys by their
modes (``gancore.eval.modes``). This module only finds it, runs it and adds what every result
records (dataset, sampler, device, time).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gancore.errors import ConfigError
from gancore.eval import classes
from gancore.evaluation import SPLITS, EvalSettings, Evaluation, Metric
from gancore.plugins import Registry, get_registry

DEFAULT_N = 10_000

#: reported for a conditional model when the evaluation has a classifier, whatever the dataset
CLASS_ACCURACY = Metric("class_accuracy", "class accuracy", "{:.4f}", "higher, max 1", "class acc.")


def default_dataset() -> str:
    """The dataset a run trains on unless told otherwise; also what `gan eval` assumes for bare files."""
    import attrs

    from gancore.config import RunConfig

    return attrs.fields(RunConfig).dataset.default


def evaluation_for(
    dataset: str, registry: Registry | None = None, options: dict[str, Any] | None = None
) -> Evaluation:
    """The evaluation the dataset ``dataset`` provides, or one line saying it provides none.

    ``options`` are a run's component options (config.toml's ``[options]``); the dataset reads its own.
    """
    entry = (registry or get_registry()).get("dataset", dataset)
    kwargs = {s.name: (options or {})[s.name] for s in entry.cls.option_specs() if s.name in (options or {})}
    try:
        evaluation = entry.cls(**kwargs).evaluation()
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"dataset {dataset!r}: {exc}") from None
    if evaluation is None:
        raise ConfigError(
            f"dataset {dataset!r} cannot be evaluated: its plugin ({entry.plugin}) gives it no evaluation"
        )
    if not isinstance(evaluation, Evaluation):
        raise ConfigError(
            f"dataset {dataset!r}: evaluation() returned {type(evaluation).__name__}, not an Evaluation"
        )
    return evaluation


def settings(
    device: str | torch.device = "auto",
    data_dir: str | os.PathLike | None = None,
    split: str = "test",
    n_real: int = DEFAULT_N,
    features: str | Path | None = None,
    inception_weights: str | None = None,
    batch_size: int = 2000,
) -> EvalSettings:
    """``EvalSettings`` from command-line values (device names, optional paths)."""
    from gancore.io.data import resolve_data_dir

    if split not in SPLITS:  # every dataset's, whether or not its evaluation reads real images
        raise ConfigError(f"--split {split}: expected one of {', '.join(SPLITS)}")
    if not isinstance(device, torch.device):
        from gancore.config import resolve_device

        device = resolve_device(device)
    return EvalSettings(
        device=device,
        data_dir=resolve_data_dir(data_dir),
        split=split,
        n_real=n_real,
        features=str(features) if features not in (None, "") else None,
        inception_weights=str(inception_weights) if inception_weights else None,
        batch_size=batch_size,
    )


def finish(
    result: dict[str, Any], samples: Tensor | np.ndarray, *, dataset: str, sampler: str | None,
    device: torch.device, seconds: float,
) -> dict[str, Any]:  # fmt: skip
    """What every eval.json records besides the evaluation's own keys."""
    result.setdefault("n_samples", len(samples))
    result.update(dataset=dataset, sampler=sampler)
    result.setdefault("device", str(device))
    result["seconds"] = round(seconds, 3)
    return result


def evaluate(
    samples: Tensor | np.ndarray,
    *,
    dataset: str | None = None,
    split: str = "test",
    n_real: int = DEFAULT_N,
    data_dir: str | os.PathLike | None = None,
    device: str | torch.device = "auto",
    features: str | Path | None = None,
    inception_weights: str | None = None,
    sampler: str | None = None,
    batch_size: int = 2000,
    registry: Registry | None = None,
) -> dict[str, Any]:
    """Every metric of ``dataset``'s evaluation (default: a run's default dataset) for ``samples``,
    as the eval.json dict.

    For the image datasets: fid, precision, recall, density, coverage, classes_covered, class_kl,
    class_counts and the real side and networks (``features``: None for the dataset's shipped
    network, "inception", or a .safetensors file made by ``gan evaluator train``); for the 2-D toys:
    modes_covered, high_quality, mode_kl and mode_counts. Always: n_samples, dataset, sampler,
    device and seconds taken.
    """
    start = time.perf_counter()
    dataset = dataset or default_dataset()
    evaluation = evaluation_for(dataset, registry)
    setup = settings(device, data_dir, split, n_real, features, inception_weights, batch_size)
    evaluation.prepare(setup)
    result = evaluation.score(samples)
    return finish(result, samples, dataset=dataset, sampler=sampler, device=setup.device,
                  seconds=time.perf_counter() - start)  # fmt: skip


def class_accuracy(evaluation: Evaluation, by_class: Sequence[Tensor]) -> dict[str, Any]:
    """How often the samples drawn for class k look like k to the evaluation's classifier.

    ``by_class[k]``: samples a conditional generator drew for class k. Returns ``class_accuracy`` (the
    mean over classes), ``class_accuracies`` (one per class) and ``class_accuracy_n`` (samples per
    class), or {} when there are no such samples or the evaluation has no classifier.
    """
    if not by_class:
        return {}
    predictions = [evaluation.classify(x) for x in by_class]
    if any(p is None for p in predictions):
        return {}
    accuracies = classes.class_accuracies([p for p in predictions if p is not None])
    return {
        "class_accuracy": sum(accuracies) / len(accuracies),
        "class_accuracies": accuracies,
        "class_accuracy_n": len(by_class[0]),
    }


def run_evaluator(config: Any, device: torch.device) -> Callable[[Tensor], dict[str, Any]]:
    """The ``--eval-every`` evaluator of a run: its dataset's metrics of the samples.

    Prepared here, so that a dataset that cannot be evaluated (or a missing feature network, or
    missing real data) fails before training starts.
    """
    evaluation = evaluation_for(config.dataset, options=dict(config.options))
    evaluation.prepare(settings(device, config.data_dir or None))
    keys = [m.key for m in evaluation.metrics]

    def score(samples: Tensor) -> dict[str, Any]:
        result = evaluation.score(samples)
        return {k: result.get(k) for k in keys}

    return score


def read_npz(path: Path) -> np.ndarray:
    """The one array an .npz holds (any key), as stored."""
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = list(npz.keys())
            if len(keys) != 1:
                listed = ", ".join(keys) or "none"
                raise ConfigError(
                    f"{path} holds {len(keys)} arrays ({listed}); give an .npz with exactly one"
                )
            array = npz[keys[0]]
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"{path} is not a readable .npz file ({type(exc).__name__})") from None
    # samples are float (pixels in [-1, 1], or points) or uint8 pixels; anything else has no scale
    if array.dtype.kind != "f" and array.dtype != np.uint8:
        raise ConfigError(
            f"{path} holds samples of type {array.dtype}; give float samples (pixels in [-1, 1],"
            " or points) or uint8 pixels in [0, 255]"
        )
    return array
