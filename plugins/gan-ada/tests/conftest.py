"""gan-ada registered for a test (loaded from its entry point once installed), and a made-up image
dataset: ADA works on images only."""

from __future__ import annotations

from pathlib import Path

import attrs
import gan_ada.plugin
import pytest
import torch

from gancore import Data, Dataset, DataSpec, hookimpl
from gancore.testing import is_registered


@attrs.define
class Squares(Dataset):
    """256 made-up 1x16x16 images: a bright 4x4 square at a random place on a dark background."""

    name = "ada-squares"
    needs_files = False

    def load(self, root: Path, device: torch.device) -> Data:
        g = torch.Generator().manual_seed(0)
        corners = torch.randint(0, 12, (256, 2), generator=g)
        ys = torch.arange(16)
        rows = (ys >= corners[:, :1]) & (ys < corners[:, :1] + 4)
        cols = (ys >= corners[:, 1:]) & (ys < corners[:, 1:] + 4)
        x = (rows[:, :, None] & cols[:, None, :]).to(torch.uint8) * 255
        return Data(x[:, None].to(device), DataSpec((1, 16, 16), "image"))


class SquaresPlugin:
    @hookimpl
    def gancore_datasets(self) -> list[type]:
        return [Squares]


@pytest.fixture
def ada_plugin(register_plugin) -> None:
    if not is_registered(gan_ada.plugin):
        register_plugin(gan_ada.plugin, "gan-ada")
    register_plugin(SquaresPlugin(), "ada-squares")
