"""The mode metrics of the 2-D toys: golden values on fixed points, the real mixture, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gancore.errors import ConfigError
from gancore.eval.evaluate import evaluation_for
from gancore.eval.modes import ModeEvaluation, nearest_modes
from gancore.evaluation import EvalSettings

TWO = [[0.0, 0.0], [1.0, 0.0]]


def test_golden_values_on_two_modes() -> None:
    # std 0.1, so "high quality" means within 0.3 of the nearest mean
    points = torch.tensor([[0.05, 0.0], [0.0, -0.29], [0.45, 0.0], [1.2, 0.0], [1.0, 0.31]])
    result = ModeEvaluation(TWO, 0.1).score(points)
    # nearest modes 0, 0, 0, 1, 1 at distances .05, .29, .45, .2, .31: the 1st, 2nd and 4th are good
    assert result["mode_counts"] == [2, 1]
    assert result["n_high_quality"] == 3 and result["high_quality"] == pytest.approx(0.6)
    assert result["modes_covered"] == 2 and result["num_modes"] == 2
    # KL((2/3, 1/3) || (1/2, 1/2)) = 2/3 ln(4/3) + 1/3 ln(2/3), by hand: 0.0566330
    assert result["mode_kl"] == pytest.approx(0.0566330123, abs=1e-9)
    assert result["n_samples"] == 5


def test_golden_values_with_an_empty_mode_and_a_stricter_count() -> None:
    means = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    points = torch.tensor([[0.01, 0.0], [0.0, 0.02], [0.98, 0.0], [5.0, 5.0]])
    result = ModeEvaluation(means, 0.05).score(points)
    assert result["mode_counts"] == [2, 1, 0] and result["high_quality"] == pytest.approx(0.75)
    assert result["modes_covered"] == 2  # VEEGAN's rule: at least one high-quality sample
    # KL((2/3, 1/3, 0) || uniform) = 2/3 ln 2 + 1/3 ln 1 = 0.4620981
    assert result["mode_kl"] == pytest.approx(2 / 3 * math.log(2), abs=1e-12) == pytest.approx(0.4620981)
    assert ModeEvaluation(means, 0.05, min_count=2).score(points)["modes_covered"] == 1


def test_the_three_std_boundary_and_no_good_samples() -> None:
    evaluation = ModeEvaluation(TWO, 0.1)
    assert evaluation.score(torch.tensor([[0.2999, 0.0]]))["high_quality"] == 1.0
    far = evaluation.score(torch.tensor([[0.3001, 0.0], [0.0, 3.0]]))
    assert far["high_quality"] == 0.0 and far["modes_covered"] == 0
    assert far["mode_kl"] is None  # no histogram to compare with uniform


def test_nearest_modes_is_exact_far_from_the_origin() -> None:
    # |x|^2 - 2 x.m + |m|^2 would lose these distances to cancellation in float64
    # (|x|^2 is ~2e12, whose float64 spacing ~2e-4 swallows the squared distance 1e-6 whole)
    means = torch.tensor([[1e6, 1e6], [1e6 + 1.0, 1e6]], dtype=torch.float64)
    points = means[:1] + torch.tensor([[1e-3, 0.0]], dtype=torch.float64)
    index, distance = nearest_modes(points, means)
    assert index.tolist() == [0] and distance.item() == pytest.approx(1e-3, rel=1e-6)


def test_collapse_onto_one_mode_of_ring8() -> None:
    ring8 = evaluation_for("ring8")
    collapsed = ring8.score(ring8.means[:1].repeat(1000, 1))
    assert collapsed["modes_covered"] == 1 and collapsed["high_quality"] == 1.0
    assert collapsed["mode_kl"] == pytest.approx(math.log(8))


@pytest.mark.parametrize(("dataset", "modes"), [("ring8", 8), ("grid25", 25)])
def test_the_mixture_itself_is_the_floor(dataset: str, modes: int) -> None:
    evaluation = evaluation_for(dataset)
    points, what = evaluation.real_samples(10_000)
    result = evaluation.score(points)
    assert result["modes_covered"] == modes and "points drawn from the mixture" in what
    # an exact sample is within 3 std with probability P(chi2_2 <= 9) = 1 - exp(-4.5) = 0.98889
    assert result["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.005)
    assert result["mode_kl"] < 0.01
    assert evaluation.floor(result) == {k: result[k] for k in ("modes_covered", "high_quality", "mode_kl")}


@pytest.mark.parametrize(
    ("samples", "message"),
    [
        (np.zeros((10, 3), np.float32), "expected N points of 2 coordinates"),
        (np.zeros((10, 28, 28), np.uint8), "expected N points of 2 coordinates"),
        (np.zeros((0, 2), np.float32), "expected N points"),
        (np.full((10, 2), np.nan, np.float32), "NaN"),
    ],
)
def test_bad_samples_are_refused(samples: np.ndarray, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ModeEvaluation(TWO, 0.1).score(samples)


def test_bad_construction_and_settings_are_one_line() -> None:
    with pytest.raises(ConfigError, match="std must be a positive number"):
        ModeEvaluation(TWO, 0.0)
    with pytest.raises(ConfigError, match="must be a \\(K, D\\) array"):
        ModeEvaluation([1.0, 2.0], 0.1)
    with pytest.raises(ConfigError, match="apply to images"):
        ModeEvaluation(TWO, 0.1).prepare(EvalSettings(features="inception"))
