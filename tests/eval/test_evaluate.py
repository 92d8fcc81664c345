"""evaluate(): the whole protocol on small data, its input checks and its cache of real statistics."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from gancore.errors import ConfigError, PluginError
from gancore.eval import evaluate as ev
from gancore.eval import images as protocol
from gancore.io.data import load_torchvision_images

MNIST_SHA256 = ev.evaluation_for("mnist").net.sha256

KEYS = {
    "fid", "precision", "recall", "density", "coverage", "classes_covered", "class_kl", "class_counts",
    "n_samples", "n_real", "real_split", "feature_net", "feature_sha256", "sampler", "seconds",
}  # fmt: skip


def _test_images(root: Path) -> torch.Tensor:
    return load_torchvision_images("MNIST", root, train=False)[0]


def test_identical_sets(tiny_mnist: Path) -> None:
    real = _test_images(tiny_mnist)
    result = ev.evaluate(real, n_real=len(real), data_dir=tiny_mnist, device="cpu", sampler="plain")
    assert set(result) >= KEYS
    assert result["fid"] < 1e-6
    assert result["precision"] == result["recall"] == result["coverage"] == 1.0
    assert result["n_samples"] == result["n_real"] == 128
    assert result["feature_net"] == "mnist-cnn" and result["feature_sha256"] == MNIST_SHA256
    assert result["sampler"] == "plain" and result["seconds"] > 0
    assert sum(result["class_counts"]) == 128


def test_float_and_uint8_samples_agree(tiny_mnist: Path, blobs) -> None:
    fake = torch.from_numpy(blobs(64, 7)[0])
    as_uint8 = ev.evaluate(fake, n_real=128, data_dir=tiny_mnist, device="cpu")
    as_float = ev.evaluate(fake.float() / 127.5 - 1, n_real=128, data_dir=tiny_mnist, device="cpu")
    assert as_uint8["fid"] > 1  # different pictures than the real ones
    for key in ("fid", "precision", "recall", "density", "coverage", "class_counts"):
        assert as_float[key] == pytest.approx(as_uint8[key], rel=1e-6), key


def test_disk_cache_is_used_then_refused_when_the_data_changes(
    tiny_mnist: Path, _private_cache: Path, monkeypatch: pytest.MonkeyPatch, blobs, write_idx
) -> None:
    fake = torch.from_numpy(blobs(64, 7)[0])
    first = ev.evaluate(fake, n_real=100, data_dir=tiny_mnist, device="cpu")
    (cached,) = _private_cache.glob("mnist-test-100-mnist-cnn-*.safetensors")

    def no_recompute(*args, **kwargs):
        raise AssertionError("the real statistics were recomputed")

    original = protocol.knn_distances
    # a fresh process: nothing in memory, the file on disk answers
    monkeypatch.setattr(protocol, "_REFERENCES", {})
    monkeypatch.setattr(protocol, "knn_distances", no_recompute)
    again = ev.evaluate(fake, n_real=100, data_dir=tiny_mnist, device="cpu")
    assert again["fid"] == first["fid"] and again["coverage"] == first["coverage"]

    # other real images under the same name: the cache must not answer for them
    images, labels = blobs(128, 99)
    write_idx(tiny_mnist / "MNIST" / "raw", "t10k", images, labels)
    monkeypatch.setattr(protocol, "_REFERENCES", {})
    with pytest.raises(AssertionError, match="recomputed"):
        ev.evaluate(fake, n_real=100, data_dir=tiny_mnist, device="cpu")
    monkeypatch.setattr(protocol, "knn_distances", original)
    monkeypatch.setattr(protocol, "_REFERENCES", {})
    changed = ev.evaluate(fake, n_real=100, data_dir=tiny_mnist, device="cpu")
    assert changed["fid"] != first["fid"]

    # a damaged cache file is recomputed, not trusted
    cached.write_bytes(cached.read_bytes()[:100])
    monkeypatch.setattr(protocol, "_REFERENCES", {})
    assert ev.evaluate(fake, n_real=100, data_dir=tiny_mnist, device="cpu")["fid"] == changed["fid"]


@pytest.mark.mnist
def test_collapse_onto_one_digit(mnist: Path) -> None:
    images, labels = load_torchvision_images("MNIST", mnist, train=False)
    ones = images[labels == 1][:1000]
    result = ev.evaluate(ones, n_real=2000, data_dir=mnist, device="cpu")
    assert result["classes_covered"] == 1
    assert result["class_counts"][1] >= 990
    assert result["class_kl"] > 0.9 * math.log(10)
    assert result["recall"] < 0.3  # the other nine digits are missed
    assert result["fid"] > 50


@pytest.mark.mnist
def test_real_digits_cover_all_classes(mnist: Path) -> None:
    train = load_torchvision_images("MNIST", mnist, train=True)[0][:2000]
    result = ev.evaluate(train, n_real=2000, data_dir=mnist, device="cpu")
    assert result["classes_covered"] == 10 and result["class_kl"] < 0.02
    # real against real is the floor: FID ~7 at 2,000 (its small-sample bias), P and R ~0.87
    assert result["precision"] > 0.8 and result["recall"] > 0.8
    assert result["fid"] < 10


@pytest.mark.parametrize(
    ("samples", "message"),
    [
        (np.zeros((10, 3, 28, 28), np.uint8), "expected N images of 1x28x28"),
        (np.full((10, 28, 28), 0.5, np.float32), "looks like \\[0, 1\\]"),
        (np.full((10, 784), 300.0, np.float32), "expected \\[-1, 1\\]"),
        (np.full((10, 28, 28), np.nan, np.float32), "NaN"),
        (np.full((10, 28, 28), 256, np.int32), "\\[0, 255\\]"),
        (np.zeros((0, 28, 28), np.uint8), "no samples"),
    ],
)
def test_bad_samples_are_refused(samples: np.ndarray, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        protocol.as_unit(samples, (1, 28, 28))


def test_shapes_and_ranges_that_are_accepted() -> None:
    flat = np.full((4, 784), 255, np.uint8)
    assert protocol.as_unit(flat, (1, 28, 28)).shape == (4, 1, 28, 28)
    assert float(protocol.as_unit(flat, (1, 28, 28)).min()) == 1.0
    floats = np.linspace(-1, 1, 4 * 784, dtype=np.float32).reshape(4, 28, 28)
    torch.testing.assert_close(
        protocol.as_unit(floats, (1, 28, 28)).flatten(), torch.from_numpy(floats).flatten()
    )


def test_too_few_samples_for_the_knn_metrics(tiny_mnist: Path) -> None:
    with pytest.raises(ConfigError, match="too few"):
        ev.evaluate(np.zeros((5, 28, 28), np.uint8), n_real=100, data_dir=tiny_mnist, device="cpu")


def test_more_real_images_than_the_split_has(tiny_mnist: Path) -> None:
    with pytest.raises(ConfigError, match="which has 128"):
        ev.evaluate(np.zeros((50, 28, 28), np.uint8), n_real=10_000, data_dir=tiny_mnist, device="cpu")
    with pytest.raises(ConfigError, match="5 real images are too few"):
        ev.evaluate(np.zeros((50, 28, 28), np.uint8), n_real=5, data_dir=tiny_mnist, device="cpu")
    # few real images still work: the cached k-NN distances shrink to what the set allows
    result = ev.evaluate(np.zeros((50, 28, 28), np.uint8), n_real=6, data_dir=tiny_mnist, device="cpu")
    # 50 identical samples: their k-NN balls have radius 0 and hold no real image
    assert result["n_real"] == 6 and result["recall"] == 0.0 and result["classes_covered"] == 1


def test_unknown_dataset_and_samples_of_another_kind() -> None:
    with pytest.raises(PluginError, match="unknown dataset 'mnits'; did you mean 'mnist'"):
        ev.evaluate(np.zeros((50, 28, 28), np.uint8), dataset="mnits")
    # ring8 has an evaluation, of points: images are refused in one line
    with pytest.raises(ConfigError, match="expected N points of 2 coordinates"):
        ev.evaluate(np.zeros((50, 28, 28), np.uint8), dataset="ring8")
