"""`evaluate()`: every metric of the protocol for one set of samples, as the eval.json dict.

Protocol (defaults): 10,000 samples against the 10,000 MNIST test images, in the feature space of the
shipped classifier. The real side (features, Gaussian fit, k-NN radii) is cached in memory and on
disk, keyed by the network's sha256, the split, the count and the sha256 of the real images, so a
cache entry can never be used for other weights or other data.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
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

DEFAULT_N = 10_000
CACHE_VERSION = 2  # bump whenever the features computed from the same weights change
KNN_CACHED = 8  # k-NN distances kept per real point: enough for any k up to 8 without recomputing
SPLITS = ("test", "train")


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
            return npz[keys[0]]
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"{path} is not a readable .npz file ({type(exc).__name__})") from None


def _float_pixels(array: np.ndarray) -> np.ndarray:
    """Float arrays beyond [-1, 1] but within [0, 255] are pixels (the .npz case only)."""
    if array.dtype.kind == "f" and array.size and np.isfinite(array).all():
        lo, hi = float(array.min()), float(array.max())
        if lo >= 0 and 1 + 1e-3 < hi <= 255:
            return (array.astype(np.float32) / 127.5 - 1).astype(np.float32)
    return array


def load_samples(path: Path, dataset: str = "mnist") -> Tensor:
    """An .npz of N images in [-1, 1] or [0, 255] as float [-1, 1] (N, C, H, W)."""
    return as_unit(_float_pixels(read_npz(path)), feats.spec_for(dataset).image_shape)


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


def real_images(dataset: str, split: str, n: int, root: Path) -> Tensor:
    """``n`` images of a split as uint8 (N, C, H, W): all of them, or a fixed random subset.

    Not the first ``n``: MNIST's test set puts its 5,000 cleaner digits first, so a prefix is not a
    fair sample of the split (the first 2,000 test images sit at FID ~20 from the training set).
    """
    from gancore.io.data import load_torchvision_images

    if split not in SPLITS:
        raise ConfigError(f"--split {split}: expected one of {', '.join(SPLITS)}")
    images, _ = load_torchvision_images(feats.spec_for(dataset).folder, root, train=split == "train")
    if not 0 < n <= len(images):
        raise ConfigError(f"{n} real images asked of the {dataset} {split} split, which has {len(images)}")
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
    net: feats.FeatureNet, dataset: str, split: str, n: int, root: Path, batch_size: int = 1000
) -> Reference:
    """Real features, Gaussian fit and k-NN radii: from memory, from disk, or computed (then stored)."""
    from safetensors.torch import load_file, save_file

    images = real_images(dataset, split, n, root)
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
            tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
            save_file(tensors, str(tmp), metadata={"gancore": key[0]})
            tmp.replace(path)
        except OSError:
            pass  # a read-only cache only costs the recomputation next time
    _REFERENCES[key] = ref
    return ref


# ----------------------------------------------------------------------------------- evaluation


def _device(device: str | torch.device) -> torch.device:
    if isinstance(device, torch.device):
        return device
    from gancore.config import resolve_device

    return resolve_device(device)


def load_networks(
    dataset: str,
    device: torch.device,
    features: str | Path | None = None,
    inception_weights: str | None = None,
) -> tuple[feats.FeatureNet, feats.FeatureNet | None]:
    """(feature network, classifier): the dataset's shipped CNN is both unless told otherwise."""
    feats.spec_for(dataset)
    if features in (None, "", feats.spec_for(dataset).name):
        net = feats.load(None, dataset, device)
        return net, net
    if str(features) == "inception":
        from gancore.eval import inception

        net = inception.load(inception_weights, device)
        try:
            return net, feats.load(None, dataset, device)
        except ConfigError:
            return net, None  # no classifier for this dataset: class metrics are left out
    net = feats.load(features, dataset, device)
    return net, net


def evaluate(
    samples: Tensor | np.ndarray,
    *,
    dataset: str = "mnist",
    split: str = "test",
    n_real: int = DEFAULT_N,
    data_dir: str | os.PathLike | None = None,
    device: str | torch.device = "auto",
    features: str | Path | None = None,
    inception_weights: str | None = None,
    k_pr: int = 3,
    k_dc: int = 5,
    sampler: str | None = None,
    batch_size: int = 2000,
) -> dict[str, Any]:
    """Every metric of the protocol for ``samples`` (float in [-1, 1] or uint8, (N, 1, 28, 28)).

    Returns the eval.json dict: fid, precision, recall, density, coverage, classes_covered,
    class_kl, class_counts, n_samples, the real split and count, feature network name and sha256,
    sampler, device and seconds taken. ``features``: None (the dataset's shipped network),
    "inception", or a .safetensors file made by ``gan evaluator train``.
    """
    from gancore.io.data import resolve_data_dir

    start = time.perf_counter()
    spec = feats.spec_for(dataset)
    x = as_unit(samples, spec.image_shape)
    need = max(k_pr, k_dc) + 1
    if min(k_pr, k_dc) < 1:
        raise ConfigError(f"k must be at least 1 (got k_pr={k_pr}, k_dc={k_dc})")
    if x.shape[0] < need:
        raise ConfigError(f"{x.shape[0]} samples are too few: the k-NN metrics need at least {need}")
    if n_real < need:
        raise ConfigError(f"{n_real} real images are too few: the k-NN metrics need at least {need}")
    dev = _device(device)
    net, classifier = load_networks(dataset, dev, features, inception_weights)
    ref = reference(net, dataset, split, n_real, resolve_data_dir(data_dir), batch_size)

    fake, preds = embed(net, x, batch_size)
    if classifier is not None and classifier is not net:
        _, preds = embed(classifier, x, batch_size)
    fid_value = frechet_distance(ref.mu, ref.cov, *gaussian_fit(fake))
    manifold = prdc(ref.features, fake, k_pr, k_dc, real_knn=ref.knn)
    result: dict[str, Any] = {"fid": fid_value, **manifold}
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
        dataset=dataset,
        real_split=split,
        n_real=n_real,
        feature_net=net.name,
        feature_sha256=net.sha256,
        classifier=classifier.name if classifier is not None else None,
        classifier_sha256=classifier.sha256 if classifier is not None else None,
        k_pr=k_pr,
        k_dc=k_dc,
        covered_min_share=classes.MIN_SHARE,
        sampler=sampler,
        device=str(dev),
        seconds=round(time.perf_counter() - start, 3),
    )
    return result


#: the metrics ``--eval-every`` writes to metrics.jsonl (as eval/<key>)
HEADLINE = ("fid", "precision", "recall", "density", "coverage", "classes_covered", "class_kl")


def run_evaluator(config: Any, device: torch.device) -> Callable[[Tensor], dict[str, float]]:
    """The ``--eval-every`` evaluator of a run: the protocol's headline metrics of its samples."""
    feats.load(None, config.dataset, device)  # no network for this data: say so before training

    def score(samples: Tensor) -> dict[str, float]:
        result = evaluate(samples, dataset=config.dataset, data_dir=config.data_dir or None,
                          device=device, sampler=config.sampler)  # fmt: skip
        return {k: result[k] for k in HEADLINE}

    return score


# The real-vs-real floor of the default protocol (10,000 training images against the 10,000 test
# images), measured with `gan eval --real` and shown beside every result of the same protocol.
FLOORS: dict[str, dict[str, float]] = {
    feats.MNIST_SHA256: {
        "fid": 1.540,
        "precision": 0.8714,
        "recall": 0.8873,
        "density": 0.9340,
        "coverage": 0.9469,
        "classes_covered": 10,
        "class_kl": 0.0027,
    },
}


def floor_for(result: dict[str, Any]) -> dict[str, float] | None:
    """The floor that applies to a result, when it was measured under the default protocol."""
    default = (
        result.get("real_split") == "test"
        and result.get("n_real") == DEFAULT_N
        and result.get("n_samples") == DEFAULT_N
        and (result.get("k_pr"), result.get("k_dc")) == (3, 5)
    )
    return FLOORS.get(result.get("feature_sha256", "")) if default else None
