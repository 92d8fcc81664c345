"""wgan and wgan-gp train through the CLI on ring8 with finite losses and their monitors logged."""

from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors.torch import load_file

from gancore.testing import gan, train

pytestmark = pytest.mark.usefixtures("one_thread")  # from the gancore.testing pytest plugin


@pytest.mark.parametrize("loss", ["wgan", "wgan-gp"])
def test_trains_300_steps_on_ring8(tmp_path, loss):
    rows = train(tmp_path / "run", "--loss", loss, "--steps", "300")
    assert [r["step"] for r in rows] == [50, 100, 150, 200, 250, 300]
    assert all(math.isfinite(v) for r in rows for v in r.values())
    for key in ("d_loss", "g_loss", "loss/wasserstein", "spectral-product/bound", "interp-grad/max"):
        assert all(key in r for r in rows), key
    last = rows[-1]
    assert last["interp-grad/max"] <= last["spectral-product/bound"]  # lower bound <= upper bound
    critic = {k: v for k, v in load_file(tmp_path / "run" / "checkpoints" / "last.safetensors").items()
              if k.startswith("critic.")}  # fmt: skip
    if loss == "wgan":
        assert max(v.abs().max().item() for v in critic.values()) <= 0.01
        assert last["spectral-product/bound"] < 1.0  # clipped weights: a small network
    else:
        assert "reg/gp" in last
        assert 0.5 < last["interp-grad/mean"] < 2.0  # the penalty holds gradient norms near 1
        assert max(v.abs().max().item() for v in critic.values()) > 0.01  # nothing clipped


def test_spectral_norm_run_resumes(tmp_path):
    run = tmp_path / "run"
    rows = train(
        run,
        "--loss",
        "wgan-gp",
        "--spectral-norm",
        "--steps",
        "40",
        "--log-every",
        "20",
        "--lr-d",
        "1e-4",
        "--lr-g",
        "1e-4",
    )  # the power iteration tracks small steps
    assert rows[-1]["spectral-product/bound"] == pytest.approx(1.0, abs=0.05)  # every layer normalized
    keys = load_file(run / "checkpoints" / "last.safetensors")
    assert any("parametrizations.weight.original" in k for k in keys)
    code, output = gan("run", "--resume", run, "--steps", "60")
    assert code == 0, output
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 60 and rows[-1]["spectral-product/bound"] == pytest.approx(1.0, abs=0.05)


def test_a_spectral_norm_run_warm_starts_from_a_plain_run(tmp_path):
    train(tmp_path / "plain", "--steps", "10")
    train(tmp_path / "sn", "--loss", "wgan-gp", "--spectral-norm", "--steps", "1", "--init-from",
          str(tmp_path / "plain"), "--lr-d", "1e-12", "--lr-g", "1e-12")  # fmt: skip
    plain = load_file(tmp_path / "plain" / "checkpoints" / "last.safetensors")
    sn = load_file(tmp_path / "sn" / "checkpoints" / "last.safetensors")
    # the warm start loads the plain weights before spectral normalization wraps the critic
    assert torch.allclose(
        plain["critic.1.0.weight"], sn["critic.1.0.parametrizations.weight.original"], atol=1e-6
    )


def test_a_resumed_run_measures_what_an_uninterrupted_one_does(tmp_path):
    # interp-grad draws its interpolation weights from its own generator, seeded from the step: a
    # resumed run (a new process, a new monitor) draws the same ones (found on a GPU, where the
    # resumed run's interp-grad/max differed by 0.5% while the training columns matched).
    # spectral-product's power-iteration vectors are in the checkpoint: a resumed run goes on from them
    # (before they were, it restarted cold and its bound differed in the last bits).
    args = ("--loss", "wgan-gp", "--monitor", "interp-grad", "--monitor", "spectral-product")
    whole = train(tmp_path / "whole", *args, "--steps", "40", "--log-every", "10")
    train(tmp_path / "split", *args, "--steps", "20", "--log-every", "10")
    code, output = gan("run", "--resume", str(tmp_path / "split"), "--steps", "40")
    assert code == 0, output
    split = [json.loads(line) for line in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()]
    keys = ("step", "d_loss", "g_loss", "interp-grad/max", "interp-grad/mean", "spectral-product/bound")
    assert [[r[k] for k in keys] for r in split] == [[r[k] for k in keys] for r in whole]
