"""Top-k through the CLI on ring8: it selects the per-sample loss it needs, trains, optimises the mean
over the best-scored fakes once k < n, resumes bit for bit, and is refused with a loss without
per-sample values."""

from __future__ import annotations

import math
import tomllib

import pytest
from safetensors.torch import load_file

from gancore.testing import gan, is_registered, train

pytestmark = pytest.mark.usefixtures("one_thread", "topk_plugin")

STEPS_PER_EPOCH = 156  # ring8: 20,000 points in batches of 128


def test_topk_trains_on_the_mean_of_the_best_scored_fakes(tmp_path):
    run = tmp_path / "run"
    # gamma 0.5: k = 128 in epoch 0, then the floor of 64 from epoch 1 (step 157) on
    rows = train(run, "--weighting", "topk", "--topk-gamma", "0.5", "--steps", "400", batch_size=128)
    config = tomllib.loads((run / "config.toml").read_text())
    assert config["weightings"] == ["topk"]
    # the recommendation turned the built-in vanilla loss per-sample, and the config says so
    assert config["options"]["loss_per_sample"] is True and config["options"]["topk_gamma"] == 0.5
    assert all(math.isfinite(r["g_loss"]) and math.isfinite(r["d_loss"]) for r in rows)
    epoch0 = [r for r in rows if r["step"] <= STEPS_PER_EPOCH - 6]
    later = [r for r in rows if r["step"] >= 250]
    assert epoch0 and later
    # all of the batch: the weighted mean is the mean; half of it: the fakes with the lowest softplus(-v)
    assert all(r["g_loss_weighted"] == pytest.approx(r["g_loss"], rel=1e-5) for r in epoch0)
    assert all(r["g_loss_weighted"] < r["g_loss"] - 1e-3 for r in later), later


def test_a_topk_run_resumes_bit_for_bit_across_an_epoch(tmp_path):
    args = ("--weighting", "topk", "--topk-gamma", "0.5")
    whole, split = tmp_path / "whole", tmp_path / "split"
    train(whole, *args, "--steps", "200", batch_size=128, log_every=100)
    train(split, *args, "--steps", "100", batch_size=128, log_every=100)
    code, output = gan("run", "--resume", split, "--steps", "200")
    assert code == 0, output
    a, b = (load_file(run / "checkpoints/last.safetensors") for run in (whole, split))
    assert a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a)


def test_a_loss_without_per_sample_values_is_refused_in_one_line(tmp_path):
    out = tmp_path / "r"
    code, output = gan("run", "--dataset", "ring8", "--device", "cpu", "--steps", "5", "--out", out,
                       "--weighting", "topk", "--no-loss-per-sample")  # fmt: skip
    assert code != 0 and "returns one value per batch" in output, output
    assert len(output.strip().splitlines()) == 1
    assert not out.exists()


def test_topk_with_the_hinge_loss(tmp_path, register_plugin):
    gan_losses = pytest.importorskip("gan_losses.plugin")
    if not is_registered(gan_losses):
        register_plugin(gan_losses, "gan-losses")
    rows = train(tmp_path / "run", "--loss", "hinge", "--weighting", "topk", "--topk-gamma", "0.5",
                 "--steps", "200", batch_size=128, log_every=100)  # fmt: skip
    assert rows[-1]["g_loss_weighted"] < rows[-1]["g_loss"]


def test_plugins_show_gives_the_options_and_the_recommendation():
    code, output = gan("plugins", "show", "topk")
    assert code == 0, output
    assert "--topk-gamma" in output and "--topk-min" in output and "loss_per_sample" in output
    assert "Sinha" in output
