"""FID against scipy.linalg.sqrtm and against the closed form for diagonal covariances."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from gancore.eval.fid import frechet_distance, gaussian_fit, trace_sqrt_product


def _random_cov(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def _scipy_fid(mu1, cov1, mu2, cov2) -> float:
    root = scipy.linalg.sqrtm(cov1 @ cov2)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(cov1 + cov2 - 2 * root.real))


def test_fid_matches_scipy_sqrtm_on_known_gaussians() -> None:
    rng = np.random.default_rng(0)
    d = 24
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d) + 0.5
    cov1, cov2 = _random_cov(rng, d), _random_cov(rng, d)
    # the known parameters themselves
    expected = _scipy_fid(mu1, cov1, mu2, cov2)
    assert frechet_distance(mu1, cov1, mu2, cov2) == pytest.approx(expected, rel=1e-6)
    # and features drawn from them, through the float64 fit
    x1 = rng.multivariate_normal(mu1, cov1, size=4000)
    x2 = rng.multivariate_normal(mu2, cov2, size=3000)
    m1, c1 = gaussian_fit(torch.from_numpy(x1).float())
    m2, c2 = gaussian_fit(torch.from_numpy(x2).float())
    np.testing.assert_allclose(c1, np.cov(x1.astype(np.float32).astype(np.float64), rowvar=False), rtol=1e-9)
    assert frechet_distance(m1, c1, m2, c2) == pytest.approx(_scipy_fid(m1, c1, m2, c2), rel=1e-6)
    # the sample estimate is near the truth it was drawn from
    assert frechet_distance(m1, c1, m2, c2) == pytest.approx(expected, rel=0.05)


def test_fid_closed_form_for_diagonal_covariances() -> None:
    rng = np.random.default_rng(1)
    d = 50
    a, b = rng.uniform(0.01, 4, d), rng.uniform(0.01, 4, d)
    a[:5] = 0  # singular: dead feature units give zero variances
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    closed = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(closed, rel=1e-10)


def test_trace_sqrt_is_stable_for_nearly_singular_products() -> None:
    # rank-deficient covariances (fewer samples than dimensions), where sqrtm of the product struggles
    rng = np.random.default_rng(2)
    x = rng.normal(size=(10, 40))
    cov = np.cov(x, rowvar=False)
    value = trace_sqrt_product(cov, cov)
    assert np.isfinite(value)
    assert value == pytest.approx(np.trace(cov), rel=1e-9)  # sqrt(C C) = C for PSD C


def test_identical_features_give_zero() -> None:
    x = torch.randn(2000, 32, dtype=torch.float64) * 3 + 1
    mu, cov = gaussian_fit(x)
    assert frechet_distance(mu, cov, mu, cov) < 1e-9 * np.trace(cov)
    assert frechet_distance(mu, cov, mu + 1, cov) == pytest.approx(32.0, rel=1e-9)
