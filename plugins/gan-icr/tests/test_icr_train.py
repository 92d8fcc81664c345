"""Every name of gan-icr trains through the CLI with finite losses and its terms in metrics.jsonl."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest
import torch

from gancore import Data, Dataset, DataSpec, hookimpl
from gancore.testing import gan, train


@attrs.define
class TinyImages(Dataset):
    """256 made-up 1x16x16 images: a bright 4x4 square at a random place on a dark background."""

    name = "icr-tiny-images"
    needs_files = False

    def load(self, root: Path, device: torch.device) -> Data:
        g = torch.Generator().manual_seed(0)
        corners = torch.randint(0, 12, (256, 2), generator=g)
        ys, xs = torch.arange(16), torch.arange(16)
        rows = (ys >= corners[:, :1]) & (ys < corners[:, :1] + 4)
        cols = (xs >= corners[:, 1:]) & (xs < corners[:, 1:] + 4)
        x = (rows[:, :, None] & cols[:, None, :]).to(torch.uint8) * 255
        return Data(x[:, None].to(device), DataSpec((1, 16, 16), "image"))


class TinyImagesPlugin:
    @hookimpl
    def gancore_datasets(self) -> list[type]:
        return [TinyImages]


@pytest.fixture(autouse=True)
def tiny_images(register_plugin: Callable[[object, str], None], one_thread: None) -> None:
    """The made-up images as a dataset, registered for each test (both fixtures: gancore.testing)."""
    register_plugin(TinyImagesPlugin(), "icr-tiny-images")


#: small networks for the image runs (the default MLPs cost seconds per hundred steps on one thread)
SMALL = ["--generator", "toy", "--critic", "toy", "--toy-width", "64", "--latent-dim", "16"]


def finite(rows: list[dict]) -> bool:
    return all(math.isfinite(v) for r in rows for v in r.values())


@pytest.mark.parametrize(
    ("dataset", "args", "keys"),
    [
        ("icr-tiny-images", [*SMALL, "--reg", "bcr", "--bcr-augment", "flip,translation,cutout,color"],
         ["reg/bcr"]),
        ("ring8", ["--reg", "zcr"], ["reg/zcr", "reg/zcr/g"]),
        ("icr-tiny-images", [*SMALL, "--reg", "icr"], ["reg/bcr", "reg/zcr", "reg/zcr/g"]),
        ("icr-tiny-images", [*SMALL, "--augment", "translation,cutout"], []),
        ("icr-tiny-images", [*SMALL, "--augment", "flip,color", "--reg", "icr"], ["reg/bcr", "reg/zcr"]),
    ],
)  # fmt: skip
def test_trains_300_steps(tmp_path, dataset, args, keys):
    rows = train(tmp_path / "run", "--steps", "300", *args, dataset=dataset, log_every=100)
    assert [r["step"] for r in rows] == [100, 200, 300]
    assert finite(rows)
    for key in keys:
        assert all(key in r for r in rows), key
    if "reg/bcr" in keys:
        assert rows[-1]["reg/bcr"] > 0
    if "reg/zcr/g" in keys:
        assert all(r["reg/zcr/g"] < 0 for r in rows)  # -lambda_gen * ||G(z) - G(z + dz)||^2


def test_icr_selects_bcr_and_zcr_with_their_options(tmp_path):
    run = tmp_path / "run"
    train(
        run,
        *SMALL,
        "--steps",
        "2",
        "--reg",
        "icr",
        "--reg",
        "bcr",
        "--zcr-sigma",
        "0.1",
        dataset="icr-tiny-images",
    )
    config = (run / "config.toml").read_text()
    assert 'regs = [\n    "icr",\n    "bcr",\n    "zcr",\n]' in config  # bcr not added twice
    assert "zcr_sigma = 0.1" in config and "bcr_real_weight = 10.0" in config


def test_composes_with_another_loss(tmp_path):
    pytest.importorskip("gan_lsgan")
    rows = train(tmp_path / "run", *SMALL, "--steps", "100", "--loss", "lsgan", "--reg", "icr", "--augment",
                 "translation", "--critic", "conv", dataset="icr-tiny-images", log_every=100)  # fmt: skip
    assert finite(rows) and "reg/bcr" in rows[-1] and "loss/d_real" in rows[-1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--augment", "translation"], "augmentation 'translation' works on images"),
        (["--reg", "bcr"], "regularizer 'bcr' augments images"),
        (["--reg", "bcr", "--bcr-augment", "rotate"], "--bcr-augment 'rotate': expected"),
    ],
)
def test_image_only_settings_on_points_fail_in_one_line(tmp_path, args, message):
    code, output = gan("run", "--dataset", "ring8", "--device", "cpu", "--steps", "5", "--out",
                       tmp_path / "run", *args)  # fmt: skip
    assert code == 2, output
    assert message in output and "Traceback" not in output


def test_refused_before_the_run_folder_is_made(tmp_path):
    code, output = gan("run", "--dataset", "ring8", "--device", "cpu", "--steps", "5", "--augment", "cutout",
                       "--out", tmp_path / "run")  # fmt: skip
    assert code == 2 and "augmentation 'cutout' works on images" in output
    assert not (tmp_path / "run").exists()
