"""Shared fixtures: a CLI runner, small made-up data (a ring of points, tiny images, and a made-up MNIST
on disk for the evaluator). One thread and plugin registration come from the gancore.testing plugin."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

import attrs
import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from gancore import plugins, testing
from gancore.components import Dataset
from gancore.records import Data, DataSpec

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    # tests never touch the network; a missing dataset must fail at once
    monkeypatch.setenv("GANCORE_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _one_thread(one_thread: None) -> None:
    """Every test here runs torch on one thread (``one_thread`` comes from the gancore.testing plugin)."""


@attrs.frozen
class Outcome:
    exit_code: int
    output: str


def gan(*args: str | os.PathLike) -> Outcome:
    """Run the `gan` CLI in-process; ``output`` holds stdout and stderr."""
    return Outcome(*testing.gan(*args))


def same_tensors(a: Path, b: Path) -> None:
    """Two safetensors files hold the same keys with bit-identical tensors."""
    left, right = load_file(a), load_file(b)
    assert left.keys() == right.keys()
    for key in left:
        assert left[key].dtype == right[key].dtype and left[key].equal(right[key]), key


@pytest.fixture
def fresh_plugin_manager(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A plugin manager built anew (entry points re-read), restored afterwards."""
    monkeypatch.setattr(plugins, "_pm", None)
    monkeypatch.setattr(plugins, "_infos", {})
    yield


@pytest.fixture
def builtin_plugins_only(monkeypatch: pytest.MonkeyPatch, fresh_plugin_manager: None) -> None:
    """No entry-point plugin loads in this test, only the built-in one (``GANCORE_PLUGINS=""``): for tests
    whose example plugins reuse names that installed packages provide (gan-losses' ``hinge``, gan-ema's
    ``ema``), which would otherwise clash. Ask for it before ``register_plugin``."""
    monkeypatch.setenv("GANCORE_PLUGINS", "")


def shared_mnist() -> Path | None:
    return testing.find_mnist(REPO.parent / "shared" / "data")


@attrs.define
class TinyImages(Dataset):
    """256 made-up 1x16x16 images: a bright square at a random place on a dark background."""

    name = "tiny-images"
    needs_files = False

    def load(self, root: Path, device: torch.device) -> Data:
        g = torch.Generator().manual_seed(0)
        x = torch.zeros(256, 1, 16, 16, dtype=torch.uint8)
        corners = torch.randint(0, 12, (256, 2), generator=g)
        for i, (r, c) in enumerate(corners.tolist()):
            x[i, 0, r : r + 4, c : c + 4] = 255
        return Data(x.to(device), DataSpec((1, 16, 16), "image", num_classes=None))


class TinyImagesPlugin:
    @plugins.hookimpl
    def gancore_datasets(self):
        return [TinyImages]


@pytest.fixture
def tiny_images(register_plugin) -> str:
    register_plugin(TinyImagesPlugin(), "tiny-images-plugin")
    return "tiny-images"


def write_idx(folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray) -> None:
    """The two IDX files torchvision's MNIST reads for one split."""
    folder.mkdir(parents=True, exist_ok=True)
    n, h, w = images.shape
    (folder / f"{prefix}-images-idx3-ubyte").write_bytes(
        struct.pack(">IIII", 0x803, n, h, w) + images.astype(np.uint8).tobytes()
    )
    (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(
        struct.pack(">II", 0x801, n) + labels.astype(np.uint8).tobytes()
    )


def blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n 28x28 uint8 pictures: a few bright random strokes on black, with a label per picture."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), np.uint8)
    for img in images:
        for _ in range(rng.integers(2, 5)):
            r, c = rng.integers(4, 20, 2)
            dr, dc = rng.integers(1, 4), rng.integers(1, 4)
            img[r : r + 8 * dr // 2 : dr, c : c + 8] = 255
            img[r : r + 8, c : c + 8 * dc // 2 : dc] = 200
    return images, rng.integers(0, 10, n)


@pytest.fixture(name="blobs")
def _blobs_fixture():
    """The picture maker, for tests that need more made-up images."""
    return blobs


@pytest.fixture(name="write_idx")
def _write_idx_fixture():
    return write_idx


@pytest.fixture
def tiny_mnist(tmp_path: Path) -> Path:
    """A data root holding a made-up MNIST: 256 training and 128 test pictures."""
    raw = tmp_path / "data" / "MNIST" / "raw"
    write_idx(raw, "train", *blobs(256, 1))
    write_idx(raw, "t10k", *blobs(128, 2))
    return tmp_path / "data"
