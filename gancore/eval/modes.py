"""Mode metrics for data drawn from a known mixture of isotropic Gaussians (the 2-D toys).

The literature's protocol for the ring and the grid (VEEGAN, Srivastava et al. 2017, *VEEGAN:
Reducing mode collapse in GANs using implicit variational learning*, section 5.1; reused by PacGAN,
Lin et al. 2018, *PacGAN: The power of two samples in generative adversarial networks*):

- a sample is **high quality** when it lies within three standard deviations of the nearest mode's
  mean (Euclidean distance <= 3 std);
- a mode is **covered** when it is the nearest mode of at least one high-quality sample (VEEGAN's
  "number of modes captured"; ``min_count`` raises that bar where a stricter rule is wanted);
- the **mode KL** is KL(p || uniform) of the histogram p of high-quality samples over the modes, in
  nats: 0 for an even spread, log K when they all sit on one mode. PacGAN reports a KL divergence
  between the generated and the true mode distributions beside the mode count, because a count
  cannot see a generator that covers every mode but favours a few.

No feature network and no real data are involved: the means and the standard deviation are the
mixture's own, given by the dataset.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np
import torch
from torch import Tensor

from gancore.errors import ConfigError
from gancore.eval.classes import class_kl
from gancore.evaluation import EvalSettings, Evaluation, Metric

#: rows per block of the samples-to-means distances, so memory stays small for any sample count
BLOCK = 65_536


def _means(value: Any) -> Tensor:
    means = torch.as_tensor(value, dtype=torch.float64).detach().cpu()
    if means.ndim != 2 or means.shape[0] < 1 or means.shape[1] < 1:
        raise ConfigError(f"mode means must be a (K, D) array, got shape {tuple(means.shape)}")
    return means


def _positive(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{attribute.name} must be a positive number, got {value!r}")


def as_points(samples: Tensor | np.ndarray, dim: int) -> Tensor:
    """Samples as float64 (N, dim) on the CPU; one line saying what was seen when they are not."""
    x = torch.as_tensor(samples).detach().cpu()
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] != dim:
        raise ConfigError(f"samples have shape {tuple(x.shape)}; expected N points of {dim} coordinates")
    if x.dtype == torch.bool or x.is_complex():
        raise ConfigError(f"samples have dtype {x.dtype}; give real-valued coordinates")
    x = x.double()
    if not torch.isfinite(x).all():
        raise ConfigError("samples contain NaN or infinite values")
    return x


def nearest_modes(points: Tensor, means: Tensor) -> tuple[Tensor, Tensor]:
    """(index of the nearest mean, distance to it) per point.

    Squared distances are summed from coordinate differences, not expanded as |x|^2 - 2x.m + |m|^2,
    which cancels catastrophically for points close to a mean far from the origin.
    """
    index, distance = [], []
    for start in range(0, points.shape[0], BLOCK):
        block = points[start : start + BLOCK]
        squared = (block[:, None, :] - means[None, :, :]).square().sum(-1)
        best, which = squared.min(1)
        index.append(which)
        distance.append(best.sqrt())
    return torch.cat(index), torch.cat(distance)


@attrs.define(eq=False)
class ModeEvaluation(Evaluation):
    """Modes covered, high-quality share and mode KL of samples of a Gaussian mixture (see above)."""

    name = "modes"

    means: Tensor = attrs.field(converter=_means)  # (K, D) float64
    std: float = attrs.field(converter=float, validator=_positive)
    n_stds: float = attrs.field(default=3.0, converter=float, validator=_positive)
    min_count: int = attrs.field(default=1, validator=attrs.validators.ge(1))
    seed: int = 1  # the real draw for the floor; the toys train on seed 0's

    @property
    def num_modes(self) -> int:
        return int(self.means.shape[0])

    @property
    def metrics(self) -> tuple[Metric, ...]:
        share = f"high-quality share (within {self.n_stds:g} std)"
        return (
            Metric("modes_covered", "modes covered", "{}", "all", "modes", "{:.1f}", out_of="num_modes"),
            Metric("high_quality", share, "{:.4f}", "higher, max 1", "high quality", "{:.3f}"),
            Metric("mode_kl", "mode KL from uniform", "{:.4f}", "lower, min 0", "mode KL", "{:.3f}"),
        )

    def prepare(self, settings: EvalSettings) -> None:
        if settings.features is not None or settings.inception_weights is not None:
            raise ConfigError(
                f"--features and --inception-weights apply to images; this data is scored by its"
                f" {self.num_modes} modes, without a feature network"
            )

    def read(self, array: np.ndarray) -> Tensor:
        return as_points(array, int(self.means.shape[1]))

    def score(self, samples: Tensor | np.ndarray) -> dict[str, Any]:
        """The three metrics, ``mode_counts`` (high-quality samples per mode) and the protocol's constants.

        ``mode_kl`` is None when no sample is of high quality: there is no histogram to compare.
        """
        x = as_points(samples, int(self.means.shape[1]))
        index, distance = nearest_modes(x, self.means)
        good = distance <= self.n_stds * self.std
        counts = torch.bincount(index[good], minlength=self.num_modes).tolist()
        n_good = int(good.sum())
        return {
            "modes_covered": sum(1 for c in counts if c >= self.min_count),
            "num_modes": self.num_modes,
            "high_quality": n_good / x.shape[0],
            "mode_kl": class_kl(counts) if n_good else None,
            "mode_counts": counts,
            "n_samples": int(x.shape[0]),
            "n_high_quality": n_good,
            "std": self.std,
            "n_stds": self.n_stds,
            "min_count": self.min_count,
            "device": "cpu",  # a few thousand distances: not worth a device
        }

    def classify(self, samples: Tensor | np.ndarray) -> Tensor:
        """The nearest mode of each point: the mixture's component index, which the toys' labels are."""
        index, _ = nearest_modes(as_points(samples, int(self.means.shape[1])), self.means)
        return index

    def real_samples(self, n: int) -> tuple[Tensor, str]:
        """``n`` points drawn from the mixture itself (equal weights), with this evaluation's seed."""
        from gancore.io.data import gaussian_mixture

        if n <= 0:
            raise ConfigError(f"-n must be positive, got {n}")
        points, _ = gaussian_mixture(self.means, self.std, n, seed=self.seed)
        return points, f"{n} points drawn from the mixture (seed {self.seed})"

    def floor(self, result: dict[str, Any]) -> dict[str, Any] | None:
        """The mixture's own samples, as many as ``result`` scored: what a perfect generator gets.

        (The expected high-quality share of an exact sample is P(chi^2_D <= 9), 1 - exp(-4.5) =
        0.9889 in 2-D; the draw shows its sampling noise too.)
        """
        n = result.get("n_samples")
        if not isinstance(n, int) or n <= 0:
            return None
        real = self.score(self.real_samples(n)[0])
        return {m.key: real[m.key] for m in self.metrics}

    def describe(self, result: dict[str, Any]) -> str:
        return f"{self.num_modes} modes, std {self.std:g}, high quality within {self.n_stds:g} std"
