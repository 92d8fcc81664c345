"""Shared fixtures: a CLI runner, runtime plugin registration that cleans up, small made-up data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
import torch

from gancore import plugins, testing
from gancore.components import Dataset
from gancore.records import Data, DataSpec

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    # tests never touch the network; a missing dataset must fail at once
    monkeypatch.setenv("GANCORE_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    with testing.single_thread():
        yield


@attrs.frozen
class Outcome:
    exit_code: int
    output: str


def gan(*args: str | os.PathLike) -> Outcome:
    """Run the `gan` CLI in-process; ``output`` holds stdout and stderr."""
    return Outcome(*testing.gan(*args))


@pytest.fixture
def register() -> Iterator:
    """Register plugins for one test only."""
    names: list[str] = []

    def add(plugin: object, name: str) -> None:
        plugins.register(plugin, name=name)
        names.append(name)

    yield add
    for name in names:
        plugins.unregister(name)


@pytest.fixture
def fresh_plugin_manager(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A plugin manager built anew (entry points re-read), restored afterwards."""
    monkeypatch.setattr(plugins, "_pm", None)
    monkeypatch.setattr(plugins, "_infos", {})
    yield


def shared_mnist() -> Path | None:
    for candidate in (os.environ.get("GANCORE_DATA"), REPO.parent / "shared" / "data"):
        if candidate and (Path(candidate) / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file():
            return Path(candidate)
    return None


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
def tiny_images(register) -> str:
    register(TinyImagesPlugin(), "tiny-images-plugin")
    return "tiny-images"
