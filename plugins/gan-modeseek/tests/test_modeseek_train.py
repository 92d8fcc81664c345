"""modeseek and the gmm prior train through the CLI on ring8, with the weight following --schedule."""

from __future__ import annotations

import math

import pytest

from gancore.testing import train

pytestmark = pytest.mark.usefixtures("one_thread")  # from the gancore.testing pytest plugin


def test_modeseek_with_gmm_prior_and_a_schedule(tmp_path):
    run = tmp_path / "run"
    # ring8: 20,000 points / batch 32 = 625 steps per epoch, so step 700 is in epoch 1
    rows = train(run, "--reg", "modeseek", "--prior", "gmm", "--steps", "700", "--schedule",
                 "ms_weight=+0.01/1ep", log_every=350)  # fmt: skip
    assert [r["step"] for r in rows] == [350, 700]
    assert all(math.isfinite(v) for r in rows for v in r.values() if isinstance(v, float))
    assert all(0 < r["reg/modeseek/g"] < 0.1 / 1e-5 for r in rows)
    assert [r["schedule/ms_weight"] for r in rows] == pytest.approx([0.05, 0.06])
    config = (run / "config.toml").read_text()
    assert 'prior = "gmm"' in config and "gmm_components = 8" in config and "ms_weight = 0.05" in config


def test_modeseek_composes_with_another_loss_and_regularizer(tmp_path):
    pytest.importorskip("gan_lsgan")
    pytest.importorskip("gan_icr")
    rows = train(tmp_path / "run", "--loss", "lsgan", "--reg", "zcr", "--reg", "modeseek", "--steps", "100",
                 log_every=50)  # fmt: skip
    assert all("reg/modeseek/g" in r and "reg/zcr/g" in r for r in rows)
    assert all(math.isfinite(v) for r in rows for v in r.values() if isinstance(v, float))
