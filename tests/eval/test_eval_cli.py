"""`gan eval` and `gan evaluator`: files in, eval.json out, one clear line (exit 2) for bad input."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from gancore.cli import app


def gan(*args) -> tuple[int, str]:
    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.output


def _one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), output
    assert "Traceback" not in output
    return lines[0]


@pytest.fixture
def samples_npz(tmp_path: Path, blobs) -> Path:
    path = tmp_path / "samples.npz"
    np.savez(path, whatever=blobs(60, 5)[0])
    return path


def test_npz_to_json(samples_npz: Path, tiny_mnist: Path, tmp_path: Path) -> None:
    out = tmp_path / "e.json"
    code, output = gan("eval", samples_npz, "--out", out, "--n-real", 100, "--data-dir", tiny_mnist)
    assert code == 0, output
    result = json.loads(out.read_text())
    assert result["n_samples"] == 60 and result["samples"] == str(samples_npz)
    assert 0 <= result["precision"] <= 1 and result["fid"] > 0
    assert "FID" in output and "classes covered" in output
    # nothing is overwritten
    out.write_text("keep")
    code, output = gan("eval", samples_npz, "--out", out, "--n-real", 100, "--data-dir", tiny_mnist)
    assert code == 2 and "already exists" in _one_error_line(output)
    assert out.read_text() == "keep"


def test_json_flag_and_sample_count(samples_npz: Path, tiny_mnist: Path) -> None:
    code, output = gan("eval", samples_npz, "-n", 30, "--n-real", 100, "--data-dir", tiny_mnist, "--json")
    assert code == 0, output
    payload = output[output.index("{") : output.rindex("}") + 1]
    assert json.loads(payload)["n_samples"] == 30


def test_floor_on_made_up_data(tiny_mnist: Path) -> None:
    code, output = gan("eval", "--real", "-n", 100, "--n-real", 100, "--data-dir", tiny_mnist, "--json")
    assert code == 0, output
    result = json.loads(output[output.index("{") : output.rindex("}") + 1])
    assert result["samples"] == "100 mnist training images (seed-0 subset)"
    assert result["real_split"] == "test" and result["n_real"] == 100


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"a": np.zeros((20, 28, 28), np.uint8), "b": np.zeros(3)}, "holds 2 arrays (a, b)"),
        ({"x": np.zeros((20, 3, 32, 32), np.uint8)}, "expected N images of 1x28x28"),
        ({"x": np.full((20, 28, 28), 0.5, np.float32)}, "looks like [0, 1]"),
        ({"x": np.zeros((4, 28, 28), np.uint8)}, "too few"),
    ],
)
def test_bad_npz(tmp_path: Path, tiny_mnist: Path, arrays: dict, message: str) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    code, output = gan("eval", path, "--n-real", 100, "--data-dir", tiny_mnist)
    assert code == 2 and message in _one_error_line(output)


def test_bad_targets(tmp_path: Path) -> None:
    code, output = gan("eval", tmp_path / "missing.npz")
    assert code == 2 and "no such" in _one_error_line(output)
    (tmp_path / "text.npz").write_text("not a zip")
    code, output = gan("eval", tmp_path / "text.npz")
    assert code == 2 and "not a readable .npz" in _one_error_line(output)
    code, output = gan("eval", tmp_path)
    assert code == 2 and "not a gancore run" in _one_error_line(output)
    code, output = gan("eval")
    assert code == 2 and "--real" in _one_error_line(output)


def test_missing_data_is_one_line(samples_npz: Path, tmp_path: Path) -> None:
    code, output = gan("eval", samples_npz, "--data-dir", tmp_path / "nowhere")
    assert code == 2 and "MNIST not found" in _one_error_line(output)


@pytest.mark.skipif(
    importlib.util.find_spec("pytorch_fid") is not None, reason="pytorch-fid may fetch weights"
)
def test_inception_without_weights_exits_2(samples_npz: Path, tiny_mnist: Path) -> None:
    code, output = gan("eval", samples_npz, "--features", "inception", "--data-dir", tiny_mnist)
    assert code == 2 and "--inception-weights" in _one_error_line(output)


class _FakeDetector(torch.nn.Module):
    """StyleGAN's detector interface: [0, 255] RGB in, features out with return_features=True."""

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        return torch.nn.functional.adaptive_avg_pool2d(x / 255, 4).flatten(1)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")
def test_inception_weights_never_load_code(
    samples_npz: Path, tiny_mnist: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A TorchScript file carries code: it is refused in one line, and torch.jit.load is never called."""
    weights = tmp_path / "inception-2015-12-05.pt"
    torch.jit.script(_FakeDetector()).save(str(weights))

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("torch.jit.load was called on --inception-weights")

    monkeypatch.setattr(torch.jit, "load", forbidden)
    code, output = gan(
        "eval", samples_npz, "--features", "inception", "--inception-weights", weights,
        "--n-real", 100, "--data-dir", tiny_mnist, "--json",
    )  # fmt: skip
    assert code == 2 and "AssertionError" not in output
    line = _one_error_line(output)
    assert "pytorch-fid" in line


def test_evaluator_list_and_refusals(tmp_path: Path) -> None:
    code, output = gan("evaluator", "list")
    assert code == 0 and "mnist-cnn" in output and "not shipped" in output
    existing = tmp_path / "net.safetensors"
    existing.write_text("x")
    code, output = gan("evaluator", "train", "--out", existing)
    assert code == 2 and "already exists" in _one_error_line(output)
    code, output = gan("evaluator", "train", "--dataset", "ring8", "--out", tmp_path / "n.safetensors")
    assert code == 2 and "no feature network" in _one_error_line(output)


@pytest.mark.mnist
def test_eval_a_run(mnist: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    code, output = gan(
        "run", "--dataset", "mnist", "--data-dir", mnist, "--subset", 256, "--steps", 3,
        "--batch-size", 64, "--out", run, "--device", "cpu",
    )  # fmt: skip
    assert code == 0, output
    code, output = gan("eval", run, "-n", 200, "--n-real", 200, "--device", "cpu")
    assert code == 0, output
    result = json.loads((run / "eval.json").read_text())
    assert result["sampler"] == "plain" and result["n_samples"] == 200 and result["run"] == str(run)
    # refreshing the run's own eval.json is allowed; another existing file is not overwritten
    code, output = gan("eval", run, "-n", 100, "--n-real", 200, "--device", "cpu")
    assert code == 0 and json.loads((run / "eval.json").read_text())["n_samples"] == 100
    other = tmp_path / "other.json"
    other.write_text("keep")
    code, output = gan("eval", run, "-n", 100, "--out", other)
    assert code == 2 and other.read_text() == "keep"
