"""Fixtures for the evaluator's tests: a private cache, the real MNIST (the made-up one is in tests/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gancore import testing

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own eval cache, on disk and in memory."""
    from gancore.eval import images

    monkeypatch.setenv("GANCORE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(images, "_REFERENCES", {})
    return tmp_path / "cache" / "eval"


@pytest.fixture
def mnist() -> Path:
    """The real MNIST root; the test is skipped without it."""
    root = testing.find_mnist(REPO.parent / "shared" / "data")
    if root is None:
        pytest.skip("the real MNIST is not in ../shared/data or $GANCORE_DATA")
    return root
