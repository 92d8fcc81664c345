"""R1 and R2 through the CLI on ring8: R1 keeps a collapse-prone run covering the modes; lazy R1 and R2
train and resume exactly."""

from __future__ import annotations

import math

import pytest
from safetensors.torch import load_file

from gancore.testing import gan, modes_covered, train

pytestmark = pytest.mark.usefixtures("one_thread", "penalties_plugin")


def test_r1_keeps_a_collapse_prone_run_covering_the_modes(tmp_path):
    # Adam at 2e-3, seed 3: the plain run ends on no mode at all at step 1000 (its samples sit between
    # them); with R1 (gamma 1) it covers all eight. Other seeds in docs/techniques.md
    args = ("--lr-d", "2e-3", "--lr-g", "2e-3", "--seed", "3", "--steps", "1000")
    train(tmp_path / "plain", *args, batch_size=128, log_every=500)
    rows = train(tmp_path / "r1", *args, "--reg", "r1", "--r1-gamma", "1", batch_size=128, log_every=500)
    assert all(math.isfinite(r["reg/r1"]) for r in rows)
    plain, with_r1 = modes_covered(tmp_path / "plain", tmp_path), modes_covered(tmp_path / "r1", tmp_path)
    assert plain <= 2 and with_r1 >= 7, (plain, with_r1)


def test_lazy_r1_and_r2_train_and_resume_exactly(tmp_path):
    # the lazy schedule restarts from the checkpoint's step (50: 50 % 3 = 2), so the halves match the whole
    args = ("--reg", "r1", "--r1-every", "3", "--reg", "r2", "--r2-gamma", "0.5", "--n-critic", "2")
    whole, split = tmp_path / "whole", tmp_path / "split"
    rows = train(whole, *args, "--steps", "100", batch_size=128, log_every=25)
    assert all(math.isfinite(r["reg/r1"]) and math.isfinite(r["reg/r2"]) for r in rows)
    train(split, *args, "--steps", "50", batch_size=128, log_every=25)
    code, output = gan("run", "--resume", split, "--steps", "100")
    assert code == 0, output
    a, b = (
        load_file(whole / "checkpoints/last.safetensors"),
        load_file(split / "checkpoints/last.safetensors"),
    )
    assert a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a), "resumed run differs"
    config = (whole / "config.toml").read_text()
    assert "r1_every = 3" in config and "r2_gamma = 0.5" in config
