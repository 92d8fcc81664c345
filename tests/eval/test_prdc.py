"""Precision, recall, density and coverage equal the reference package `prdc`."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import torch

from gancore.eval.prdc import knn_distances, prdc

reference = pytest.importorskip("prdc")


@pytest.fixture(autouse=True)
def _serial_sklearn(monkeypatch: pytest.MonkeyPatch) -> None:
    # prdc asks sklearn for 8 worker processes; on a 2-core machine starting them costs seconds
    import functools

    import sklearn.metrics

    serial = functools.partial(sklearn.metrics.pairwise_distances, n_jobs=1)
    monkeypatch.setattr(reference.prdc.sklearn.metrics, "pairwise_distances", serial)


def _reference(real: np.ndarray, fake: np.ndarray, k_pr: int = 3, k_dc: int = 5) -> dict[str, float]:
    with contextlib.redirect_stdout(io.StringIO()):  # prdc prints the set sizes
        pr = reference.compute_prdc(real, fake, nearest_k=k_pr)
        dc = reference.compute_prdc(real, fake, nearest_k=k_dc)
    return {
        "precision": pr["precision"],
        "recall": pr["recall"],
        **{k: dc[k] for k in ("density", "coverage")},
    }


@pytest.mark.parametrize(
    ("dtype", "offset", "block"),
    [(np.float32, 0.0, 1 << 24), (np.float32, 50.0, 3000), (np.float64, 0.0, 7777)],
)
def test_prdc_matches_reference(dtype, offset: float, block: int) -> None:
    rng = np.random.default_rng(0)
    real = (rng.normal(size=(600, 16)) + offset).astype(dtype)
    fake = (rng.normal(size=(450, 16)) * 1.3 + 0.4 + offset).astype(dtype)
    ours = prdc(torch.from_numpy(real), torch.from_numpy(fake), block_elements=block)
    expected = _reference(real, fake)
    for key, value in expected.items():
        assert ours[key] == pytest.approx(value, abs=1e-6), key
    # a partial overlap: none of the four is trivially 0 or 1
    assert 0.1 < ours["precision"] < 0.99 and 0.1 < ours["recall"] < 0.99


def test_other_k_and_cached_real_radii() -> None:
    rng = np.random.default_rng(1)
    real = rng.normal(size=(300, 8)).astype(np.float32)
    fake = (rng.normal(size=(200, 8)) + 0.7).astype(np.float32)
    r = torch.from_numpy(real)
    knn = knn_distances(r - r.mean(0, keepdim=True), 8)
    ours = prdc(r, torch.from_numpy(fake), k_pr=2, k_dc=7, real_knn=knn)
    expected = _reference(real, fake, 2, 7)
    for key, value in expected.items():
        assert ours[key] == pytest.approx(value, abs=1e-6), key


def test_knn_distances_match_brute_force() -> None:
    x = torch.randn(97, 5, dtype=torch.float64)
    d = torch.cdist(x, x, compute_mode="donot_use_mm_for_euclid_dist")
    d.fill_diagonal_(float("inf"))
    expected = d.sort(1).values[:, :4]
    torch.testing.assert_close(knn_distances(x, 4, block_elements=200), expected)


def test_identical_sets_have_full_precision_and_recall() -> None:
    x = torch.randn(500, 12)
    out = prdc(x, x.clone())
    assert out["precision"] == 1.0 and out["recall"] == 1.0 and out["coverage"] == 1.0


def test_too_few_points_for_k() -> None:
    with pytest.raises(ValueError, match="more than 3 points"):
        knn_distances(torch.randn(3, 4), 3)
