"""Report 000's learning-rate ramp: its factors, the rates the optimizers really get, exact resume."""

from __future__ import annotations

import json

import pytest
from gan_fgan.schedules import DecadeWarmup
from safetensors import safe_open
from safetensors.torch import load_file

from gancore.testing import gan, single_thread, train


@pytest.fixture(autouse=True)
def one_thread():
    with single_thread():
        yield


def test_factors_are_a_hundredth_a_tenth_then_one():
    assert [DecadeWarmup().factor(e) for e in range(4)] == [0.01, 0.1, 1.0, 1.0]
    assert [DecadeWarmup(warmup_epochs=3).factor(e) for e in range(4)] == [0.001, 0.01, 0.1, 1.0]
    assert DecadeWarmup(warmup_epochs=0).factor(0) == 1.0


def _lr(checkpoint, which: str) -> float:
    with safe_open(str(checkpoint), framework="pt") as fh:
        return json.loads(fh.metadata()[f"{which}.param_groups"])[0]["lr"]


# ring8 holds 20,000 points: batch 500 makes 40 generator steps an epoch
FAST = ("--loss", "vanilla", "--lr-schedule", "decade-warmup", "--lr-g", "0.001", "--lr-d", "0.002")


def test_each_epoch_runs_at_its_factor_of_the_configured_rates(tmp_path):
    train(tmp_path / "run", *FAST, "--steps", "120", "--ckpt-every", "40", batch_size=500)
    checkpoints = tmp_path / "run" / "checkpoints"
    for step, factor in ((40, 0.01), (80, 0.1), (120, 1.0)):
        path = checkpoints / f"step-{step:09d}.safetensors"
        assert _lr(path, "opt_g") == 0.001 * factor and _lr(path, "opt_d") == 0.002 * factor


def test_resume_inside_the_ramp_equals_an_uninterrupted_run(tmp_path):
    whole, split = tmp_path / "whole", tmp_path / "split"
    train(whole, *FAST, "--steps", "100", batch_size=500)
    train(split, *FAST, "--steps", "50", batch_size=500)  # stops in epoch 1, at a tenth of the rate
    code, output = gan("run", "--resume", split, "--steps", "100")
    assert code == 0, output
    left = load_file(whole / "checkpoints/last.safetensors")
    right = load_file(split / "checkpoints/last.safetensors")
    assert left.keys() == right.keys()
    assert all(left[k].equal(right[k]) for k in left)
