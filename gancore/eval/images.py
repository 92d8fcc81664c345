"""The image protocol: FID, precision/recall, density/coverage and class coverage in a feature space.

A dataset of images supplies an ``ImageEvaluation`` built from its feature network (a
``FeatureNetSpec``: name, weights file, sha256, classes, image shape) and its real-vs-real floor.
Defaults: 10,000 samples against 10,000 real test images, precision/recall with k=3 and
density/coverage with k=5. The real side (features, Gaussian fit, k-NN radii) is cached in memory
and on disk, keyed by the network's sha256, the dataset, the split, the count and the sha256 of the
real images, so a cache entry can never be used for other weights or other data.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch
from torch import Tensor

from gancore.errors import ConfigError
from gancore.eval import classes
from gancore.eval import features as feats
from gancore.eval.fid import frechet_distance, gaussian_fit
from gancore.eval.prdc import knn_distances, prdc
from gancore.evaluation import SPLITS, EvalSettings, Evaluation, Metric
from gancore.io.atomic import atomic_path

DEFAULT_N = 10_000
CACHE_VERSION = 2  # bump whenever the features computed from the same weights change
KNN_CACHED = 8  # k-NN distances kept per real point: enough for any k up to 8 without recomputing


def cache_dir() -> Path:
    """``$GANCORE_CACHE/eval``, else ``~/.cache/gancore/eval``."""
    return Path(os.environ.get("GANCORE_CACHE") or "~/.cache/gancore").expanduser() / "eval"


# ----------------------------------------------------------------------------------- the samples


def as_unit(samples: Tensor | np.ndarray, shape: tuple[int, ...]) -> Tensor:
    """Samples as float32 (N, C, H, W) in [-1, 1] on the CPU.

    Takes uint8 (or other integer) pixels in [0, 255], or floats in [-1, 1]; (N, H, W) and flat
    (N, C*H*W) arrays are reshaped. Anything else is refused with one line saying what was seen.
    """
    x = torch.as_tensor(samples).detach().cpu()
    if x.ndim == 0 or x.shape[0] == 0:
        raise ConfigError(f"no samples to evaluate (got shape {tuple(x.shape)})")
    n, per = x.shape[0], int(np.prod(shape))
    if tuple(x.shape[1:]) != tuple(shape):
        if x[0].numel() != per or x.ndim not in (2, 3):
            want = "x".join(map(str, shape))
            raise ConfigError(f"samples have shape {tuple(x.shape)}; expected N images of {want}")
        x = x.reshape(n, *shape)
    if x.dtype == torch.bool or x.is_complex():
        raise ConfigError(f"samples have dtype {x.dtype}; give uint8 pixels or floats in [-1, 1]")
    if not x.is_floating_point():
        lo, hi = int(x.min()), int(x.max())
        if lo < 0 or hi > 255:
            raise ConfigError(f"integer samples span [{lo}, {hi}]; expected pixels in [0, 255]")
        return x.float().div_(127.5).sub_(1.0)
    x = x.float()
    if not torch.isfinite(x).all():
        raise ConfigError("samples contain NaN or infinite values")
    lo, hi = float(x.min()), float(x.max())
    tol = 1e-3
    if lo >= -1 - tol and hi <= 1 + tol:
        if lo >= 0 and hi > 0:
            # a [0, 1] image would pass as a washed-out [-1, 1] one and give meaningless numbers
            raise ConfigError(
                f"float samples span [{lo:.3g}, {hi:.3g}], which looks like [0, 1]: rescale to [-1, 1]"
                " (x * 2 - 1) or to [0, 255]"
            )
        return x.clamp_(-1, 1)
    raise ConfigError(f"float samples span [{lo:.4g}, {hi:.4g}]; expected [-1, 1] (or uint8 pixels)")


def float_pixels(array: np.ndarray) -> np.ndarray:
    """Float arrays beyond [-1, 1] but within [0, 255] are pixels (the .npz case only)."""
    if array.dtype.kind == "f" and array.size and np.isfinite(array).all():
        lo, hi = float(array.min()), float(array.max())
        if lo >= 0 and 1 + 1e-3 < hi <= 255:
            return (array.astype(np.float32) / 127.5 - 1).astype(np.float32)
    return array


# ----------------------------------------------------------------------------------- the real side


@attrs.frozen
class Reference:
    """The real side of the comparison, on the device."""

    features: Tensor  # (n, D) float32
    mu: np.ndarray  # float64
    cov: np.ndarray
    knn: Tensor  # (n, KNN_CACHED) sorted k-NN distances within the set
    data_sha256: str


_REFERENCES: dict[tuple, Reference] = {}


def real_images(spec: feats.FeatureNetSpec, split: str, n: int, root: Path) -> Tensor:
    """``n`` images of a split as uint8 (N, C, H, W): all of them, or a fixed random subset.

    Not the first ``n``: MNIST's test set puts its 5,000 cleaner digits first, so a prefix is not a
    fair sample of the split (the first 2,000 test images sit at FID ~20 from the training set).
    """
    from gancore.io.data import load_torchvision_images

    if split not in SPLITS:
        raise ConfigError(f"--split {split}: expected one of {', '.join(SPLITS)}")
    images, _ = load_torchvision_images(spec.folder, root, train=split == "train")
    if not 0 < n <= len(images):
        raise ConfigError(
            f"{n} real images asked of the {spec.dataset} {split} split, which has {len(images)}"
        )
    if n == len(images):
        return images
    pick = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))[:n]
    return images[pick.sort().values].contiguous()


def embed(net: feats.FeatureNet, images: Tensor, batch_size: int = 1000) -> tuple[Tensor, Tensor | None]:
    """Features (N, D) and predicted classes (or None) of [-1, 1] images, on the network's device."""
    fs, preds = [], []
    for f, logits in net.batches(images, batch_size):
        fs.append(f.float())
        if logits is not None:
            preds.append(logits.argmax(1))
    return torch.cat(fs), (torch.cat(preds) if preds else None)


def _meta(net: feats.FeatureNet, dataset: str, split: str, n: int, data_sha: str) -> dict[str, Any]:
    return {
        "version": CACHE_VERSION,
        "feature_net": net.name,
        "feature_sha256": net.sha256,
        "dataset": dataset,
        "split": split,
        "n_real": n,
        "data_sha256": data_sha,
        "knn": min(KNN_CACHED, n - 1),
    }


def reference(
    net: feats.FeatureNet, images: Tensor, dataset: str, split: str, batch_size: int = 1000
) -> Reference:
    """Real features, Gaussian fit and k-NN radii: from memory, from disk, or computed (then stored)."""
    from safetensors.torch import load_file, save_file

    n = len(images)
    data_sha = hashlib.sha256(images.numpy().tobytes()).hexdigest()
    meta = _meta(net, dataset, split, n, data_sha)
    key = (json.dumps(meta, sort_keys=True), str(net.device))
    if key in _REFERENCES:
        return _REFERENCES[key]
    path = cache_dir() / f"{dataset}-{split}-{n}-{net.name}-{net.sha256[:16]}.safetensors"
    ref = None
    if path.is_file():
        try:
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as fh:
                stored = json.loads((fh.metadata() or {}).get("gancore", "{}"))
            if stored == json.loads(key[0]):  # every field must match, or it is recomputed
                t = load_file(str(path))
                ref = Reference(
                    t["features"].to(net.device),
                    t["mu"].numpy(),
                    t["cov"].numpy(),
                    t["knn"].to(net.device),
                    data_sha,
                )
        except Exception:
            ref = None  # unreadable (truncated, old format): recompute and replace it
    if ref is None:
        unit = images.float().div_(127.5).sub_(1.0)
        real, _ = embed(net, unit, batch_size)
        mu, cov = gaussian_fit(real)
        # the same centring prdc() applies, so cached and fresh radii are the same numbers
        knn = knn_distances(real - real.mean(0, keepdim=True), min(KNN_CACHED, n - 1))
        ref = Reference(real, mu, cov, knn, data_sha)
        tensors = {
            "features": real.cpu().contiguous(),
            "mu": torch.from_numpy(mu),
            "cov": torch.from_numpy(cov),
            "knn": knn.cpu().contiguous(),
        }
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                save_file(tensors, str(tmp), metadata={"gancore": key[0]})
        except OSError:
            pass  # a read-only cache only costs the recomputation next time
    _REFERENCES[key] = ref
    return ref


def load_networks(
    spec: feats.FeatureNetSpec,
    device: torch.device,
    features: str | Path | None = None,
    inception_weights: str | None = None,
) -> tuple[feats.FeatureNet, feats.FeatureNet | None]:
    """(feature network, classifier): the dataset's shipped CNN is both unless told otherwise."""
    if features in (None, "", spec.name):
        net = feats.load(None, spec, device)
        return net, net
    if str(features) == "inception":
        from gancore.eval import inception

        net = inception.load(inception_weights, device)
        try:
            return net, feats.load(None, spec, device)
        except ConfigError:
            return net, None  # no classifier for this dataset: class metrics are left out
    net = feats.load(features, spec, device)
    return net, net


# ----------------------------------------------------------------------------------- the protocol


@attrs.define(eq=False)
class ImageEvaluation(Evaluation):
    """Images scored against real ones in a feature network's space (see the module docstring).

    ``net`` describes the dataset's feature network; ``floor`` holds the real-vs-real values of the
    default protocol (10,000 training images against the 10,000 test images, measured with `gan eval
    --real`), shown beside results measured the same way with the same weights.
    """

    name = "images"

    net: feats.FeatureNetSpec
    floor_values: dict[str, float] | None = None
    k_pr: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    k_dc: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    # what prepare() loaded
    _settings: EvalSettings | None = attrs.field(default=None, init=False)
    _features: feats.FeatureNet | None = attrs.field(default=None, init=False)
    _classifier: feats.FeatureNet | None = attrs.field(default=None, init=False)
    _reference: Reference | None = attrs.field(default=None, init=False)

    @property
    def metrics(self) -> tuple[Metric, ...]:
        pr, dc = self.k_pr, self.k_dc
        return (
            Metric("fid", "FID", "{:.3f}", "lower", column="FID", column_fmt="{:.1f}", log_scale=True),
            Metric("precision", f"precision (k={pr})", "{:.4f}", "higher, max 1", "precision", "{:.3f}"),
            Metric("recall", f"recall (k={pr})", "{:.4f}", "higher, max 1", "recall", "{:.3f}"),
            Metric("density", f"density (k={dc})", "{:.4f}", "about 1", "density", "{:.3f}"),
            Metric("coverage", f"coverage (k={dc})", "{:.4f}", "higher, max 1", "coverage", "{:.3f}"),
            Metric("classes_covered", "classes covered", "{}", "all", "classes", "{:.1f}", "num_classes"),
            Metric("class_kl", "class KL from uniform", "{:.4f}", "lower, min 0", "class KL", "{:.3f}"),
        )

    @property
    def _need(self) -> int:
        return max(self.k_pr, self.k_dc) + 1

    def prepare(self, settings: EvalSettings) -> None:
        """Load the networks and the real statistics of ``settings.split`` (cached)."""
        from gancore.io.data import resolve_data_dir

        if settings.n_real < self._need:
            raise ConfigError(
                f"{settings.n_real} real images are too few: the k-NN metrics need at least {self._need}"
            )
        if settings.split not in SPLITS:
            raise ConfigError(f"--split {settings.split}: expected one of {', '.join(SPLITS)}")
        settings = attrs.evolve(settings, data_dir=resolve_data_dir(settings.data_dir))
        net, classifier = load_networks(
            self.net, settings.device, settings.features, settings.inception_weights
        )
        images = real_images(self.net, settings.split, settings.n_real, settings.data_dir)
        self._reference = reference(net, images, self.net.dataset, settings.split, settings.batch_size)
        self._settings, self._features, self._classifier = settings, net, classifier

    def _prepared(self) -> tuple[EvalSettings, feats.FeatureNet, Reference]:
        if self._settings is None or self._features is None or self._reference is None:
            raise RuntimeError("ImageEvaluation.prepare() must be called before scoring")
        return self._settings, self._features, self._reference

    def read(self, array: np.ndarray) -> Tensor:
        return as_unit(float_pixels(array), self.net.image_shape)

    def score(self, samples: Tensor | np.ndarray) -> dict[str, Any]:
        """Every metric of the protocol for images (float in [-1, 1] or uint8, e.g. (N, 1, 28, 28)),
        with ``class_counts``, the real side and the networks' names and sha256."""
        settings, net, ref = self._prepared()
        classifier = self._classifier
        x = as_unit(samples, self.net.image_shape)
        if x.shape[0] < self._need:
            need = self._need
            raise ConfigError(f"{x.shape[0]} samples are too few: the k-NN metrics need at least {need}")
        fake, preds = embed(net, x, settings.batch_size)
        if classifier is not None and classifier is not net:
            _, preds = embed(classifier, x, settings.batch_size)
        result: dict[str, Any] = {"fid": frechet_distance(ref.mu, ref.cov, *gaussian_fit(fake))}
        result.update(prdc(ref.features, fake, self.k_pr, self.k_dc, real_knn=ref.knn))
        if preds is not None and classifier is not None:
            counts = classes.class_counts(preds, classifier.num_classes)
            result.update(
                classes_covered=classes.classes_covered(counts),
                num_classes=classifier.num_classes,
                class_kl=classes.class_kl(counts),
                class_counts=counts,
            )
        else:
            result.update(classes_covered=None, num_classes=None, class_kl=None, class_counts=None)
        result.update(
            n_samples=int(x.shape[0]),
            real_split=settings.split,
            n_real=settings.n_real,
            feature_net=net.name,
            feature_sha256=net.sha256,
            classifier=classifier.name if classifier is not None else None,
            classifier_sha256=classifier.sha256 if classifier is not None else None,
            k_pr=self.k_pr,
            k_dc=self.k_dc,
            covered_min_share=classes.MIN_SHARE,
        )
        return result

    def classify(self, samples: Tensor | np.ndarray) -> Tensor | None:
        """The dataset classifier's predicted class per image (on the CPU); None without a classifier
        (``--features inception`` for a dataset whose network is not available)."""
        settings, _, _ = self._prepared()
        if self._classifier is None:
            return None
        _, preds = embed(self._classifier, as_unit(samples, self.net.image_shape), settings.batch_size)
        return None if preds is None else preds.cpu()

    def real_samples(self, n: int) -> tuple[Tensor, str]:
        """``n`` training images (a fixed subset, seed 0), to compare with the test split."""
        settings, _, _ = self._prepared()
        if settings.split == "train":
            raise ConfigError("--real compares training images with the test split; drop --split train")
        images = real_images(self.net, "train", n, settings.data_dir)
        return images, f"{len(images)} {self.net.dataset} training images (seed-0 subset)"

    def floor(self, result: dict[str, Any]) -> dict[str, Any] | None:
        """The floor, when ``result`` was measured under the default protocol with the shipped weights."""
        default = (
            result.get("real_split") == "test"
            and result.get("n_real") == DEFAULT_N
            and result.get("n_samples") == DEFAULT_N
            and (result.get("k_pr"), result.get("k_dc")) == (3, 5) == (self.k_pr, self.k_dc)
            and result.get("feature_sha256") == self.net.sha256
        )
        return self.floor_values if default else None

    def describe(self, result: dict[str, Any]) -> str:
        return f"{result['feature_net']} ({result['feature_sha256'][:12]})"

    def notes(self, result: dict[str, Any]) -> list[str]:
        if result.get("n_samples") == DEFAULT_N and result.get("n_real") == DEFAULT_N:
            return []
        return [
            f"{result.get('n_samples')} samples vs {result.get('n_real')} real images; the protocol (and"
            f" the floor) use {DEFAULT_N:,} vs {DEFAULT_N:,}, and FID grows as N shrinks"
        ]
