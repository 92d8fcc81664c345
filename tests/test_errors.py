"""Bad input gets one clear line and exit code 2, and never touches an existing run."""

from __future__ import annotations

import pytest

from tests.conftest import gan

RING = ["--dataset", "ring8", "--device", "cpu"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lr-d", "-0.001"], "--lr-d must be positive, got -0.001"),
        (["--batch-size", "50000"], "--batch-size 50000 is larger than the dataset (20000 examples)"),
        (["--batch-size", "5000", "--n-critic", "5"], "needs 25000 examples per step"),
        (["--device", "tpu"], "unknown device 'tpu'"),
        (["--loss", "vanila"], "unknown loss 'vanila'; did you mean 'vanilla'?"),
        (["--critic", "mpl"], "did you mean 'mlp'?"),
        (["--dropuot", "0.3"], "no such option --dropuot"),
        (["--dropout", "0.3"], "--dropout is an option of critic 'conv', critic 'conv-002', critic 'mlp'"),
        (["--toy-width", "many"], "Invalid value for '--toy-width'"),
        (["--toy-width", "0"], "generator 'toy': 'toy_width' must be > 0"),
        (["--optimizer", "adamw"], "--optimizer must be one of adam, rmsprop, sgd; got 'adamw'"),
        (["--config", "missing.toml"], "config file missing.toml does not exist"),
    ],
)
def test_bad_run_input_exits_2_with_one_line(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = gan("run", *RING, "--steps", "5", *args, "--out", tmp_path / "run")
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "run").exists()


def test_no_cuda_here_is_a_clear_error(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = gan("run", *RING, "--device", "cuda", "--out", tmp_path / "run")
    assert result.exit_code == 2 and "no CUDA device is available" in result.output


def test_unknown_config_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('lossx = "vanilla"\n')
    result = gan("run", "--config", bad, "--out", tmp_path / "run")
    assert result.exit_code == 2 and "unknown key 'lossx'" in result.output
    bad.write_text("loss = \n")
    result = gan("run", "--config", bad, "--out", tmp_path / "run")
    assert result.exit_code == 2 and "is not valid TOML" in result.output


def test_existing_run_is_never_overwritten(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("precious")
    result = gan("run", *RING, "--steps", "5", "--out", run)
    assert result.exit_code == 2 and "already exists" in result.output
    assert sorted(p.name for p in run.iterdir()) == ["notes.txt"]
    assert (run / "notes.txt").read_text() == "precious"


def test_resume_errors(tmp_path):
    result = gan("run", "--resume", tmp_path / "nowhere")
    assert result.exit_code == 2 and "run folder" in result.output and "does not exist" in result.output

    run = tmp_path / "run"
    assert gan("run", *RING, "--steps", "5", "--out", run).exit_code == 0
    result = gan("run", "--resume", run, "--loss", "vanilla")
    assert result.exit_code == 2 and "--loss cannot change when resuming" in result.output

    last = run / "checkpoints" / "last.safetensors"
    data = last.read_bytes()
    last.write_bytes(data[: len(data) // 2])
    result = gan("run", "--resume", run, "--steps", "10")
    assert result.exit_code == 2 and "is corrupt or truncated" in result.output
    assert last.read_bytes() == data[: len(data) // 2]  # nothing rewritten

    last.write_bytes(b"\x00" * 40)
    result = gan("run", "--resume", run, "--steps", "10")
    assert result.exit_code == 2 and "corrupt or truncated" in result.output


@pytest.mark.parametrize(("dataset", "folder"), [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_missing_image_data_offline_says_where_to_put_it(tmp_path, dataset, folder):
    empty = tmp_path / "empty"
    result = gan("run", "--dataset", dataset, "--data-dir", empty, "--out", tmp_path / "run")
    assert result.exit_code == 2
    assert f"{folder} not found in {empty / folder / 'raw'}" in result.output
    assert "GANCORE_DATA" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()


def test_resuming_a_finished_run_asks_for_a_longer_one(tmp_path):
    run = tmp_path / "run"
    assert gan("run", *RING, "--steps", "5", "--out", run).exit_code == 0
    result = gan("run", "--resume", run)
    assert result.exit_code == 2 and "already at step 5 of 5" in result.output


def test_sample_errors(tmp_path):
    result = gan("sample", tmp_path / "nowhere")
    assert result.exit_code == 2 and "does not exist" in result.output
    run = tmp_path / "run"
    gan("run", *RING, "--steps", "5", "--out", run)
    assert "give a .npz file or a folder" in gan("sample", run, "--out", tmp_path / "x.csv").output
    assert "unknown sampler 'drz'" in gan("sample", run, "--sampler", "drz").output
