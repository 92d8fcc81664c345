"""The evaluation contract: how a dataset says its samples are scored (``Dataset.evaluation()``).

What "good samples" means depends on the data: images are compared with real images in a feature
network's space, the 2-D toys by how their samples fall on the mixture's modes. So the dataset, not
the evaluator, owns its protocol, and everything that shows results (`gan eval`'s table,
``--eval-every``'s metrics.jsonl rows, `gan report`'s columns and plots) is generated from the
``Metric`` list an evaluation declares. This module is contract only; the implementations live in
``gancore.eval`` (``ImageEvaluation``, ``ModeEvaluation``) and reach plugins through ``gancore``.

The life of an evaluation: the dataset returns a fresh one; ``prepare(settings)`` checks and loads
whatever scoring needs, raising one line (``ConfigError``) before any training or sampling is
spent; ``score(samples)`` returns a dict holding every declared metric plus any details worth
keeping in eval.json (a class histogram, the network's hash, ...).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import attrs
import numpy as np
import torch
from torch import Tensor

from gancore.errors import ConfigError


@attrs.frozen
class Metric:
    """One number an evaluation reports: its eval.json key and how people should read it."""

    key: str  # eval.json key; metrics.jsonl logs it as eval/<key>
    label: str  # row title in `gan eval`'s table
    fmt: str  # format of one value, e.g. "{:.4f}"
    better: str  # which way is better, in words: "lower", "higher, max 1", "all"
    column: str = ""  # column title in `gan report` (default: the label)
    column_fmt: str = ""  # format of a mean over runs in `gan report` (default: fmt)
    out_of: str | None = None  # a result key holding the maximum, shown as "7 of 8"
    log_scale: bool = False  # plot it over training on a log axis (FID spans decades)

    @property
    def title(self) -> str:
        return self.column or self.label

    @property
    def mean_fmt(self) -> str:
        return self.column_fmt or self.fmt

    def show(self, value: Any, result: dict[str, Any]) -> str:
        """The value as `gan eval` prints it, with its maximum when the result has one."""
        text = self.fmt.format(value)
        total = result.get(self.out_of) if self.out_of else None
        return f"{text} of {total}" if total is not None else text


#: the splits of real data an evaluation may compare against (``--split``)
SPLITS = ("test", "train")


@attrs.frozen
class EvalSettings:
    """How one evaluation is run. An evaluation reads the fields it needs and refuses, in one line,
    any it cannot honour (a feature network for data that is scored without one)."""

    device: torch.device = attrs.field(factory=lambda: torch.device("cpu"))
    data_dir: Path | None = None  # the datasets' root, for evaluations that read real files
    split: str = "test"  # which real split samples are compared with
    n_real: int = 10_000  # how many real items of that split
    features: str | None = None  # another feature network (a file, "inception"), where one is used
    inception_weights: str | None = None
    batch_size: int = 2000


class Evaluation:
    """How a dataset's samples are scored. Subclass it, declare ``metrics``, implement ``score``."""

    #: a short name for listings ("images", "modes")
    name: ClassVar[str] = ""

    @property
    def metrics(self) -> tuple[Metric, ...]:
        """Every metric ``score`` reports, in display order; the first is the headline."""
        raise NotImplementedError

    @property
    def headline(self) -> str:
        """The key worth following over training (`gan report` plots it): the first metric's."""
        return self.metrics[0].key

    def prepare(self, settings: EvalSettings) -> None:
        """Check the settings and load what scoring needs (networks, real statistics).

        Called once, before training starts (``--eval-every``) or before samples are drawn (`gan
        eval`), so that a missing file or a bad option fails in one line before work is spent.
        """
        return None

    def score(self, samples: Tensor | np.ndarray) -> dict[str, Any]:
        """Every key of ``metrics`` for a batch of samples (None where it cannot be measured), plus
        any details worth keeping in eval.json; ``n_samples`` when it differs from ``len(samples)``."""
        raise NotImplementedError

    def classify(self, samples: Tensor | np.ndarray) -> Tensor | None:
        """The class each sample looks like (int64, shape (N,), the dataset's class indices), or None
        when this evaluation has no classifier (the default). Called after ``prepare``.

        `gan eval` of a conditional run asks it about samples drawn for each class, and reports how
        often class k looks like k (``class_accuracy``)."""
        return None

    def read(self, array: np.ndarray) -> Tensor:
        """Samples from a file (an .npz's one array) as ``score`` takes them; refuse what cannot be."""
        return torch.as_tensor(array)

    def real_samples(self, n: int) -> tuple[Tensor, str]:
        """``n`` real samples scored as if generated (the floor, `gan eval --real`), and a description
        of them for eval.json. Called after ``prepare``."""
        raise ConfigError(f"this dataset's evaluation ({self.name or type(self).__name__}) has no floor")

    def floor(self, result: dict[str, Any]) -> dict[str, Any] | None:
        """Real-vs-real values comparable with ``result`` (shown beside it), or None."""
        return None

    def describe(self, result: dict[str, Any]) -> str:
        """What measured ``result``, in a few words (`gan eval` prints it under the table)."""
        return self.name

    def notes(self, result: dict[str, Any]) -> list[str]:
        """Caveats worth printing with ``result`` (a non-standard sample count, ...)."""
        return []
