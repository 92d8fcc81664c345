"""Every f-GAN loss trains through the CLI on ring8 with finite losses and logs its divergence."""

from __future__ import annotations

import math
import tomllib

import pytest
from gan_fgan.losses import LOSSES

from gancore.testing import train

pytestmark = pytest.mark.usefixtures("one_thread")  # from the gancore.testing pytest plugin


@pytest.mark.parametrize("loss", [cls.name for cls in LOSSES])
def test_trains_300_steps_on_ring8(tmp_path, loss):
    # --lr-schedule constant: fgan-kl's recommended ramp would keep 300 steps at lr/100
    rows = train(tmp_path / "run", "--loss", loss, "--steps", "300", "--lr-schedule", "constant")
    assert [r["step"] for r in rows] == [50, 100, 150, 200, 250, 300]
    assert all(math.isfinite(v) for r in rows for v in r.values())
    assert all("loss/divergence" in r and 0 <= r["d_acc_real"] <= 1 for r in rows)
    # the critic learns something: its divergence estimate rises above its starting point
    assert max(r["loss/divergence"] for r in rows[1:]) > rows[0]["loss/divergence"]


def test_kl_resolves_to_the_training_aids_and_flags_win(tmp_path):
    train(tmp_path / "run", "--loss", "fgan-kl", "--steps", "10", "--clip-grad", "5")
    config = tomllib.loads((tmp_path / "run" / "config.toml").read_text())
    assert config["clip_grad"] == 5.0  # explicit
    assert config["weight_decay_d"] == 1e-4 and config["lr_schedule"] == "decade-warmup"  # recommended
    assert config["options"]["saturating"] is False
