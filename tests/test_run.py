"""A ring8 run writes every artifact; a resumed run ends bit for bit where an uninterrupted one does."""

from __future__ import annotations

import json
import tomllib

import numpy as np
import pytest
from PIL import Image
from safetensors.torch import load_file

from tests.conftest import gan, same_tensors

FAST = ["--dataset", "ring8", "--device", "cpu", "--batch-size", "128", "--log-every", "50"]


def test_ring8_run_writes_every_artifact(tmp_path):
    run = tmp_path / "run"
    result = gan("run", *FAST, "--steps", "200", "--ckpt-every", "100", "--out", run)
    assert result.exit_code == 0, result.output

    config = tomllib.loads((run / "config.toml").read_text())
    assert config["dataset"] == "ring8" and config["steps"] == 200
    assert (config["generator"], config["critic"]) == ("toy", "toy")  # recommended by ring8
    assert config["options"] == {"loss_per_sample": False, "saturating": False, "toy_width": 128}
    assert "builtin" in config["plugins"]

    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [50, 100, 150, 200]
    for key in ("d_loss", "g_loss", "d_acc_real", "d_acc_fake", "d_grad_norm", "g_grad_norm", "it_s"):
        assert all(np.isfinite(r[key]) for r in rows), key
    assert all(0 <= r["d_acc_real"] <= 1 for r in rows)

    # 20,000 points / 128 = 156 steps per epoch: epoch 1 ends at 156, epoch 2 is partial at 200
    grids = sorted(p.name for p in (run / "samples").iterdir())
    assert grids == ["epoch-0001.png", "epoch-0002.png"]
    assert Image.open(run / "samples" / "epoch-0001.png").size == (400, 400)

    ckpts = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert ckpts == ["last.safetensors", "step-000000100.safetensors", "step-000000200.safetensors"]
    assert not any(p.name.startswith(".") for p in (run / "checkpoints").iterdir())
    last = load_file(run / "checkpoints" / "last.safetensors")
    assert any(k.startswith("generator.") for k in last) and any(k.startswith("opt_d.state.") for k in last)
    assert "rng.cpu" in last


def test_sample_writes_npz_and_png_folder(tmp_path):
    run = tmp_path / "run"
    assert gan("run", *FAST, "--steps", "20", "--out", run).exit_code == 0
    result = gan("sample", run, "-n", "300", "--out", tmp_path / "s.npz", "--grid", tmp_path / "g.png")
    assert result.exit_code == 0, result.output
    points = np.load(tmp_path / "s.npz")["points"]
    assert points.shape == (300, 2) and np.isfinite(points).all()
    assert (tmp_path / "g.png").is_file()
    # the same seed draws the same samples; another seed draws others
    gan("sample", run, "-n", "300", "--out", tmp_path / "t.npz")
    gan("sample", run, "-n", "300", "--out", tmp_path / "u.npz", "--seed", "1")
    assert np.array_equal(points, np.load(tmp_path / "t.npz")["points"])
    assert not np.array_equal(points, np.load(tmp_path / "u.npz")["points"])


def test_sample_refuses_to_overwrite(tmp_path):
    run = tmp_path / "run"
    gan("run", *FAST, "--steps", "10", "--out", run)
    (tmp_path / "s.npz").write_text("keep me")
    result = gan("sample", run, "--out", tmp_path / "s.npz")
    assert result.exit_code == 2 and "already exists" in result.output
    assert (tmp_path / "s.npz").read_text() == "keep me"


def test_image_run_conv_critic_and_png_samples(tmp_path, tiny_images):
    run = tmp_path / "run"
    result = gan(
        "run",
        "--dataset",
        tiny_images,
        "--critic",
        "conv",
        "--dropout",
        "0.3",
        "--device",
        "cpu",
        "--batch-size",
        "32",
        "--steps",
        "16",
        "--out",
        run,
    )
    assert result.exit_code == 0, result.output
    assert tomllib.loads((run / "config.toml").read_text())["options"]["dropout"] == 0.3
    assert Image.open(run / "samples" / "epoch-0002.png").mode == "L"
    out = tmp_path / "pngs/"
    assert gan("sample", run, "-n", "5", "--out", str(out) + "/").exit_code == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["000000.png", "000001.png", "000002.png", "000003.png", "000004.png", "grid.png"]
    assert Image.open(out / "000000.png").size == (16, 16)
    assert gan("sample", run, "-n", "7", "--out", tmp_path / "x.npz").exit_code == 0
    images = np.load(tmp_path / "x.npz")["images"]
    assert images.shape == (7, 1, 16, 16) and images.dtype == np.uint8


@pytest.mark.parametrize("extra", [[], ["--critic", "mlp", "--dropout", "0.2", "--n-critic", "2"]])
def test_resume_is_bitwise_equal_to_an_uninterrupted_run(tmp_path, extra):
    # 156 steps per epoch at batch 128: stopping at 100 splits an epoch, and 2N crosses into the next
    n_steps = 100 if not extra else 40
    whole, split = tmp_path / "whole", tmp_path / "split"
    assert gan("run", *FAST, *extra, "--steps", 2 * n_steps, "--out", whole).exit_code == 0
    assert gan("run", *FAST, *extra, "--steps", n_steps, "--out", split).exit_code == 0
    result = gan("run", "--resume", split, "--steps", 2 * n_steps)
    assert result.exit_code == 0, result.output
    same_tensors(whole / "checkpoints/last.safetensors", split / "checkpoints/last.safetensors")
    steps = [json.loads(line)["step"] for line in (split / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 2 * n_steps
    assert tomllib.loads((split / "config.toml").read_text())["steps"] == 2 * n_steps


def test_warm_start_copies_the_networks(tmp_path):
    source, warm = tmp_path / "source", tmp_path / "warm"
    gan("run", *FAST, "--steps", "30", "--out", source)
    result = gan(
        "run",
        *FAST,
        "--steps",
        "1",
        "--lr-g",
        "1e-12",
        "--lr-d",
        "1e-12",
        "--init-from",
        source,
        "--out",
        warm,
        "--optimizer",
        "sgd",
    )
    assert result.exit_code == 0, result.output
    a = load_file(source / "checkpoints/last.safetensors")
    b = load_file(warm / "checkpoints/last.safetensors")
    for key in (k for k in a if k.startswith("generator.")):
        assert (a[key] - b[key]).abs().max() < 1e-6, key


def test_without_out_the_run_goes_to_runs_loss_timestamp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = gan("run", *FAST, "--steps", "5")
    assert result.exit_code == 0, result.output
    (folder,) = (tmp_path / "runs").iterdir()
    assert folder.name.startswith("vanilla-20") and (folder / "checkpoints" / "last.safetensors").is_file()


def test_plot_writes_a_png_of_the_chosen_metrics(tmp_path):
    run = tmp_path / "run"
    gan("run", *FAST, "--steps", "100", "--out", run)
    result = gan("plot", run)
    assert result.exit_code == 0, result.output
    assert Image.open(run / "metrics.png").size[0] > 400
    assert gan("plot", run, "d_acc_real", "--out", tmp_path / "acc.png").exit_code == 0
    assert (tmp_path / "acc.png").is_file()
    result = gan("plot", run, "fid")
    assert result.exit_code == 2 and "no metric 'fid'" in result.output
