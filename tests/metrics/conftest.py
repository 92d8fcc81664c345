"""Fixtures for the evaluator's tests: a private cache, the real MNIST (the made-up one is in tests/)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


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
