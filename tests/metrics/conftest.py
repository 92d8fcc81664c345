"""Fixtures for the evaluator's tests: a tiny made-up MNIST on disk, a private cache, the real MNIST."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


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


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own eval cache, on disk and in memory."""
    from gancore.metrics import evaluate

    monkeypatch.setenv("GANCORE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(evaluate, "_REFERENCES", {})
    return tmp_path / "cache" / "eval"


def find_mnist() -> Path | None:
    for candidate in (os.environ.get("GANCORE_DATA"), REPO.parent / "shared" / "data"):
        if candidate and (Path(candidate) / "MNIST" / "raw" / "t10k-images-idx3-ubyte").is_file():
            return Path(candidate)
    return None


@pytest.fixture
def mnist() -> Path:
    """The real MNIST root; the test is skipped without it."""
    root = find_mnist()
    if root is None:
        pytest.skip("the real MNIST is not in ../shared/data or $GANCORE_DATA")
    return root
