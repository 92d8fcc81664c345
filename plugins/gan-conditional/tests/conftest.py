"""gan-conditional registered for a test (from its entry point once installed, at run time until then),
and a tiny labelled image set made in memory."""

from __future__ import annotations

import attrs
import gan_conditional.plugin
import pytest
import torch

from gancore import Data, Dataset, DataSpec, hookimpl
from gancore.testing import is_registered


@pytest.fixture
def conditional_plugin(register_plugin) -> None:
    if not is_registered(gan_conditional.plugin):
        register_plugin(gan_conditional.plugin, "gan-conditional")


@attrs.define
class Bars(Dataset):
    """256 made-up 1x16x16 images of two classes: a bright horizontal bar (0) or a vertical one (1)."""

    name = "bars"
    needs_files = False

    def load(self, root, device):
        g = torch.Generator().manual_seed(0)
        labels = torch.randint(2, (256,), generator=g)
        where = torch.randint(2, 14, (256,), generator=g).tolist()
        x = torch.zeros(256, 1, 16, 16, dtype=torch.uint8)
        for i, (label, at) in enumerate(zip(labels.tolist(), where, strict=True)):
            if label == 0:
                x[i, 0, at - 1 : at + 1, :] = 255
            else:
                x[i, 0, :, at - 1 : at + 1] = 255
        return Data(x.to(device), DataSpec((1, 16, 16), "image", num_classes=2), labels.to(device))


class BarsPlugin:
    @hookimpl
    def gancore_datasets(self):
        return [Bars]


@pytest.fixture
def bars(register_plugin) -> str:
    register_plugin(BarsPlugin(), "bars-plugin")
    return "bars"
