"""Mode collapse, measured: which classes the classifier sees in the samples, and how unevenly; and for
a conditional model, whether the samples drawn for class k look like k."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

# A class counts as covered when it holds at least 1% of the samples, a tenth of its fair share
# among 10 classes: a collapsed generator still yields a few stray misclassified samples, and one
# stray "7" among 10,000 "1"s is not a covered mode.
MIN_SHARE = 0.01


def class_counts(predictions: Tensor, num_classes: int) -> list[int]:
    return torch.bincount(predictions.flatten().cpu(), minlength=num_classes).tolist()


def classes_covered(counts: list[int], min_share: float = MIN_SHARE) -> int:
    total = sum(counts)
    return sum(1 for c in counts if total and c >= min_share * total)


def class_kl(counts: list[int]) -> float:
    """KL(p || uniform) in nats: 0 for a perfectly even histogram, log(K) for a single class."""
    total = sum(counts)
    k = len(counts)
    return sum((c / total) * math.log(c / total * k) for c in counts if c > 0)


def class_accuracies(predictions: Sequence[Tensor]) -> list[float]:
    """For each class k, the share of the samples drawn for k that the classifier puts in class k
    (``predictions[k]``: its predicted classes for them). Chance is 1/K for a generator that ignores
    the class it is given."""
    return [float((p.flatten() == k).float().mean()) for k, p in enumerate(predictions)]
