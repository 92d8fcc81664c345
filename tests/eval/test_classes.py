"""classes_covered and class_kl: the mode-collapse numbers."""

from __future__ import annotations

import math

import pytest
import torch

from gancore.eval.classes import class_counts, class_kl, classes_covered


def test_collapse_onto_one_digit() -> None:
    counts = class_counts(torch.full((1000,), 3), 10)
    assert counts == [0, 0, 0, 1000, 0, 0, 0, 0, 0, 0]
    assert classes_covered(counts) == 1
    assert class_kl(counts) == pytest.approx(math.log(10))


def test_stray_predictions_do_not_count_as_covered_modes() -> None:
    preds = torch.cat([torch.full((9990,), 1), torch.tensor([7] * 6 + [2] * 4)])
    counts = class_counts(preds, 10)
    assert classes_covered(counts) == 1
    assert class_kl(counts) > 2.2


def test_even_histogram() -> None:
    counts = class_counts(torch.arange(10).repeat(100), 10)
    assert classes_covered(counts) == 10
    assert class_kl(counts) == pytest.approx(0.0, abs=1e-12)


def test_two_classes() -> None:
    counts = [500, 500] + [0] * 8
    assert classes_covered(counts) == 2
    assert class_kl(counts) == pytest.approx(math.log(10 / 2))
