"""Evaluation belongs to the dataset: `gan eval`, --eval-every and `gan report` on the 2-D toys, and
one clear line for a dataset that has no evaluation."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
from safetensors.torch import save_file

from gancore import testing
from gancore.eval.evaluate import evaluation_for
from gancore.io import checkpoint
from gancore.testing import gan


@pytest.fixture(scope="module")
def ring8_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short ring8 run (2 epochs of 39 steps) evaluated after each epoch."""
    out = tmp_path_factory.mktemp("ring8") / "run"
    with testing.single_thread():
        testing.train(out, "--epochs", "2", "--eval-every", "1", "--eval-samples", "500",
                      batch_size=512, log_every=20)  # fmt: skip
    return out


def _json(output: str) -> dict:
    return json.loads(output[output.index("{") : output.rindex("}") + 1])


def collapse(run: Path, mode: int) -> None:
    """Rewrite the run's generator so that every sample lands on one mode's mean: total collapse."""
    path = run / "checkpoints" / "last.safetensors"
    tensors, meta = checkpoint.read(path)
    last = max(int(k.split(".")[1]) for k in tensors if k.startswith("generator."))
    tensors[f"generator.{last}.weight"].zero_()
    tensors[f"generator.{last}.bias"].copy_(evaluation_for("ring8").means[mode].float())
    meta[checkpoint.CHECKSUM] = checkpoint.checksum(tensors, meta)  # an edit on purpose, not damage
    save_file(tensors, str(path), metadata=meta)


def test_eval_every_writes_the_datasets_metrics(ring8_run: Path) -> None:
    rows = [json.loads(line) for line in (ring8_run / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if any(k.startswith("eval/") for k in r)]
    assert [r["epoch"] for r in evals] == [1, 2]
    for row in evals:
        assert {k for k in row if k.startswith("eval/")} == {"eval/modes_covered", "eval/high_quality",
                                                             "eval/mode_kl"}  # fmt: skip
        assert 0 <= row["eval/modes_covered"] <= 8 and 0 <= row["eval/high_quality"] <= 1


def test_gan_eval_on_a_ring8_run_and_its_collapse(ring8_run: Path, tmp_path: Path) -> None:
    code, output = gan("eval", ring8_run, "-n", 2000, "--device", "cpu")
    assert code == 0, output
    assert "modes covered" in output and "high-quality share (within 3 std)" in output
    assert "real vs real" in output  # the mixture's own samples, drawn beside it
    trained = json.loads((ring8_run / "eval.json").read_text())
    assert trained["dataset"] == "ring8" and trained["n_samples"] == 2000 and trained["num_modes"] == 8

    code, output = gan("eval", "--real", "--dataset", "ring8", "-n", 2000, "--json")
    assert code == 0, output
    real = _json(output)
    assert real["modes_covered"] == 8 and real["high_quality"] > 0.97 and real["mode_kl"] < 0.02

    collapsed_run = tmp_path / "collapsed"
    shutil.copytree(ring8_run, collapsed_run)
    (collapsed_run / "eval.json").unlink()
    collapse(collapsed_run, mode=2)
    code, output = gan("eval", collapsed_run, "-n", 2000, "--device", "cpu")
    assert code == 0, output
    collapsed = json.loads((collapsed_run / "eval.json").read_text())
    # every sample is of high quality, yet one mode of eight: the count and the KL see the collapse
    assert collapsed["high_quality"] == 1.0 and collapsed["modes_covered"] == 1
    assert collapsed["mode_counts"][2] == 2000 and collapsed["mode_kl"] == pytest.approx(math.log(8))
    # 78 steps of training and a collapsed generator both score worse than the data itself
    for result in (trained, collapsed):
        assert result["modes_covered"] < real["modes_covered"]
        assert result["mode_kl"] is None or result["mode_kl"] > real["mode_kl"]
    assert trained["high_quality"] < real["high_quality"]


def test_points_from_gan_sample_are_evaluated(ring8_run: Path, tmp_path: Path) -> None:
    npz = tmp_path / "points.npz"
    code, output = gan("sample", ring8_run, "-n", 300, "--out", npz, "--device", "cpu")
    assert code == 0, output
    code, output = gan("eval", npz, "--dataset", "ring8", "--json")
    assert code == 0, output
    assert _json(output)["n_samples"] == 300 and _json(output)["samples"] == str(npz)
    code, output = gan("eval", npz, "--dataset", "ring8", "--features", "inception")
    assert code == 2 and "apply to images" in output and len(output.strip().splitlines()) == 1


def test_report_columns_and_plot_come_from_the_evaluation(ring8_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "ring8-run"
    shutil.copytree(ring8_run, run)
    (run / "eval.json").write_text(json.dumps({"modes_covered": 6, "high_quality": 0.5, "mode_kl": 0.25}))
    code, output = gan("report", run, "--out", tmp_path / "report")
    assert code == 0, output
    header, _rule, row = [line for line in (tmp_path / "report" / "report.md").read_text().splitlines()
                          if line.startswith("|")]  # fmt: skip
    assert header.split(" | ")[3:6] == ["modes", "high quality", "mode KL"] and "FID" not in header
    assert row.split(" | ")[3:6] == ["6.0", "0.500", "0.250"]
    assert (tmp_path / "report" / "modes_covered.png").is_file()  # the headline, logged by --eval-every
    assert not (tmp_path / "report" / "fid.png").exists()


def test_a_dataset_without_evaluation_is_one_line(tiny_images: str, tmp_path: Path) -> None:
    short = ["--dataset", tiny_images, "--steps", "2", "--device", "cpu"]
    code, output = gan("run", *short, "--eval-every", "1", "--out", tmp_path / "refused")
    line = "dataset 'tiny-images' cannot be evaluated"
    assert code == 2 and line in output and len(output.strip().splitlines()) == 1, output
    assert not (tmp_path / "refused").exists()  # refused before the run folder was made
    run = tmp_path / "run"
    code, output = gan("run", *short, "--out", run)
    assert code == 0, output
    code, output = gan("eval", run, "--device", "cpu")
    assert code == 2 and line in output and len(output.strip().splitlines()) == 1, output
    code, output = gan("evaluator", "list")
    assert code == 0 and "tiny-images" in output and "ring8" in output and "modes" in output
