"""A short run on a few hundred real MNIST images (skipped when ../shared/data is absent)."""

from __future__ import annotations

import json
import tomllib

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from gancore.io.data import load_torchvision_images
from tests.conftest import gan, shared_mnist

DATA = shared_mnist()
pytestmark = [pytest.mark.mnist, pytest.mark.skipif(DATA is None, reason="no MNIST in ../shared/data")]


def test_mnist_loads_as_uint8_on_the_device():
    images, labels = load_torchvision_images("MNIST", DATA, train=True)
    assert images.shape == (60000, 1, 28, 28) and images.dtype == torch.uint8
    assert labels[0].item() == 5
    assert images.float().div(255).mean().item() == pytest.approx(0.13066, abs=1e-4)


def test_gan_run_on_a_few_hundred_mnist_images(tmp_path):
    run = tmp_path / "run"
    result = gan(
        "run",
        "--loss",
        "vanilla",
        "--critic",
        "mlp",
        "--dataset",
        "mnist",
        "--subset",
        "320",
        "--data-dir",
        DATA,
        "--batch-size",
        "32",
        "--epochs",
        "2",
        "--log-every",
        "5",
        "--device",
        "cpu",
        "--out",
        run,
    )
    assert result.exit_code == 0, result.output
    config = tomllib.loads((run / "config.toml").read_text())
    assert config["options"]["subset"] == 320 and config["data_dir"] == str(DATA.resolve())
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 20 and all(np.isfinite(r["d_loss"]) for r in rows)
    grid = Image.open(run / "samples" / "epoch-0002.png")
    assert grid.size == (8 * 30 + 2, 8 * 30 + 2)  # 8x8 tiles of 28 pixels, 2-pixel padding
    assert gan("sample", run, "-n", "10", "--out", tmp_path / "s.npz").exit_code == 0
    assert np.load(tmp_path / "s.npz")["images"].shape == (10, 1, 28, 28)


def test_gancore_data_env_points_at_the_data(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCORE_DATA", str(DATA))
    result = gan("run", "--subset", "64", "--steps", "1", "--device", "cpu", "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output


def test_eval_every_logs_metrics_and_leaves_training_unchanged(tmp_path):
    common = ["--dataset", "mnist", "--subset", "256", "--data-dir", DATA, "--batch-size", "64",
              "--epochs", "2", "--device", "cpu", "--log-every", "4"]  # fmt: skip
    plain, evaluated = tmp_path / "plain", tmp_path / "evaluated"
    assert gan("run", *common, "--out", plain).exit_code == 0
    result = gan("run", *common, "--eval-every", "1", "--eval-samples", "200", "--out", evaluated)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (evaluated / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "eval/fid" in r]
    assert [r["epoch"] for r in evals] == [1, 2]
    assert all(r["eval/fid"] > 0 and 0 <= r["eval/precision"] <= 1 and 1 <= r["eval/classes_covered"] <= 10
               for r in evals)  # fmt: skip
    a = load_file(plain / "checkpoints" / "last.safetensors")
    b = load_file(evaluated / "checkpoints" / "last.safetensors")
    assert all(a[k].equal(b[k]) for k in a)  # evaluation draws from its own RNG streams
