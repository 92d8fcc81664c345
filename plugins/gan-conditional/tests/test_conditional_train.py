"""The conditional pair through the CLI: on ring8 (labels: each point's mode) the samples drawn for class k
land on mode k; on made-up labelled images it trains with the conv projection critic and draws a class
into PNG files; the paper's optimizer settings are recommended, and the user's flags win."""

from __future__ import annotations

import json
import math
import tomllib

import numpy as np
import pytest

from gancore.testing import gan, train

pytestmark = pytest.mark.usefixtures("one_thread", "conditional_plugin")

RING8 = 2 * np.stack([np.cos(np.arange(8) * np.pi / 4), np.sin(np.arange(8) * np.pi / 4)], 1)
PAIR = ("--generator", "cmlp", "--critic", "projection")


def test_samples_drawn_for_class_k_land_on_mode_k(tmp_path):
    run = tmp_path / "run"
    # the paper's five critic steps are slow on a CPU; one is enough on the toy (measured: 0.98-1.0 a class)
    rows = train(run, *PAIR, "--latent-dim", "8", "--n-critic", "1", "--steps", "150", batch_size=64)
    assert all(math.isfinite(r["d_loss"]) and math.isfinite(r["g_loss"]) for r in rows)
    for k in range(8):
        out = tmp_path / f"class-{k}.npz"
        code, output = gan("sample", run, "-n", "200", "--class", str(k), "--out", out)
        assert code == 0, output
        points = np.load(out)["points"]
        nearest = np.sqrt(((points[:, None] - RING8[None]) ** 2).sum(-1)).argmin(1)
        assert (nearest == k).mean() > 0.5, (k, np.bincount(nearest, minlength=8))  # chance: 1/8
    code, output = gan("eval", run, "-n", "800")
    assert code == 0 and "class accuracy" in output, output
    assert json.loads((run / "eval.json").read_text())["class_accuracy"] > 0.5


def test_recommended_settings_and_the_users_flags(tmp_path):
    run = tmp_path / "run"
    train(run, *PAIR, "--latent-dim", "8", "--beta1", "0.5", "--steps", "2")
    config = tomllib.loads((run / "config.toml").read_text())
    assert (config["n_critic"], config["beta2"], config["lr_d"], config["lr_g"]) == (5, 0.9, 2e-4, 2e-4)
    assert config["beta1"] == 0.5  # given explicitly
    assert config["options"]["projection_sn"] is True


def test_trains_on_labelled_images_and_draws_a_class_into_png_files(tmp_path, bars):
    run = tmp_path / "run"
    rows = train(run, "--generator", "cmlp", "--critic", "projection-conv", "--n-critic", "1",
                 "--steps", "20", dataset=bars, log_every=10)  # fmt: skip
    assert all(math.isfinite(r["d_loss"]) and math.isfinite(r["g_loss"]) for r in rows)
    code, output = gan("sample", run, "-n", "4", "--class", "1", "--out", f"{tmp_path / 'ones'}/")
    assert code == 0 and "class 1" in output, output
    assert len(list((tmp_path / "ones").glob("*.png"))) == 5  # four samples and grid.png
    code, output = gan("sample", run, "-n", "4", "--class", "2", "--out", tmp_path / "twos.npz")
    assert code == 2 and "class 2 is out of range: the model's data has 2 classes, 0 to 1" in output
    assert len(output.strip().splitlines()) == 1
