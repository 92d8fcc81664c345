"""Fréchet distance between Gaussian fits of two feature sets (Heusel et al. 2017), in float64."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def gaussian_fit(features: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance (divisor N - 1, as numpy.cov) in float64."""
    x = features.detach().to(torch.float64)
    mu = x.mean(0)
    centered = x - mu  # centre first: the E[xx^T] - mu mu^T form cancels catastrophically
    cov = centered.T @ centered / (x.shape[0] - 1)
    return mu.cpu().numpy(), cov.cpu().numpy()


def _clean(w: np.ndarray) -> np.ndarray:
    """Eigenvalues below the rounding level of the matrix are zero: without this, the square roots
    of +-1e-16 noise add ~1e-8 each on rank-deficient covariances (dead units, N < D)."""
    return np.where(w > w.max(initial=0.0) * len(w) * np.finfo(np.float64).eps, w, 0.0)


def _psd_sqrt(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(_clean(w))) @ v.T


def trace_sqrt_product(cov1: np.ndarray, cov2: np.ndarray) -> float:
    """tr sqrt(cov1 cov2) for symmetric positive semi-definite matrices.

    cov1 cov2 is not symmetric, so scipy.linalg.sqrtm goes through a complex Schur form and can return
    imaginary parts or inaccurate roots when the product is near singular (pytorch-fid then adds eps*I
    and retries). Instead: with s = cov1^(1/2), s cov2 s is symmetric PSD and similar to cov1 cov2 (the
    two share eigenvalues), so tr sqrt(cov1 cov2) is the sum of square roots of the eigenvalues of
    s cov2 s. Both steps are symmetric eigendecompositions, which are backward stable; eigenvalues that
    rounding leaves around zero are set to zero.
    """
    s = _psd_sqrt(cov1)
    m = s @ cov2 @ s
    w = np.linalg.eigvalsh((m + m.T) / 2)
    return float(np.sqrt(_clean(w)).sum())


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + tr(cov1 + cov2 - 2 (cov1 cov2)^(1/2)), clipped at 0 against rounding."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    cov1, cov2 = np.asarray(cov1, np.float64), np.asarray(cov2, np.float64)
    diff = mu1 - mu2
    value = diff @ diff + np.trace(cov1) + np.trace(cov2) - 2 * trace_sqrt_product(cov1, cov2)
    return max(float(value), 0.0)


def fid(real: Tensor, fake: Tensor) -> float:
    """FID between two (N, D) feature sets."""
    return frechet_distance(*gaussian_fit(real), *gaussian_fit(fake))
