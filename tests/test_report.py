"""`gan report`: runs grouped into experiments, mean and spread over seeds, plots, clear errors."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
import torch

from gancore.io.images import save_png
from gancore.testing import gan
from gancore.tools import report


def make_run(
    folder: Path,
    evaluation: dict | None,
    times: list[float],
    speeds: list[float],
    monitors: tuple[str, ...] = (),
    fid_curve: tuple[float, ...] = (),
) -> Path:
    """A run folder as the engine writes one, without training: config, metrics, a grid, eval.json."""
    (folder / "samples").mkdir(parents=True)
    listed = ", ".join(f'"{m}"' for m in monitors)
    (folder / "config.toml").write_text(f'loss = "vanilla"\nmonitors = [{listed}]\n')
    rows = []
    for i, (t, speed) in enumerate(zip(times, speeds, strict=True)):
        row = {"step": 50 * (i + 1), "epoch": 0.5 * (i + 1), "time": t, "it_s": speed, "d_loss": 1.0 + i}
        row["g_loss"] = 2.0 - 0.1 * i
        row |= {f"{m}/bound": 3.0 + i for m in monitors}
        rows.append(row)
    rows += [{"step": 50 * (i + 1), "epoch": i + 1, "eval/fid": fid} for i, fid in enumerate(fid_curve)]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    save_png(torch.full((1, 8, 8), 128, dtype=torch.uint8), folder / "samples" / "epoch-0001.png")
    if evaluation is not None:
        (folder / "eval.json").write_text(json.dumps(evaluation))
    return folder


def evaluation(fid: float, precision: float, classes: int = 10) -> dict:
    return {"fid": fid, "precision": precision, "recall": 0.5, "density": 1.0, "coverage": 0.75,
            "classes_covered": classes, "class_kl": 0.01}  # fmt: skip


@pytest.fixture
def sweep_like(tmp_path: Path) -> Path:
    """Two seeds of experiment a, one of b (not evaluated), as `gan sweep` lays them out."""
    root = tmp_path / "sweep"
    a0, a1 = evaluation(10.0, 0.6), evaluation(14.0, 0.8, 9)
    make_run(root / "a" / "seed-0", a0, [1.0, 2.0], [100.0, 120.0], fid_curve=(20.0, 10.0))
    # resumed once: its clock restarts at 0, so its training took 3 + 4 = 7 s
    make_run(root / "a" / "seed-1", a1, [1.5, 3.0, 2.0, 4.0], [90.0, 95.0, 100.0, 105.0])
    make_run(root / "b" / "seed-0", None, [5.0], [10.0], monitors=("spectral-product",))
    return root


def test_table_is_mean_and_sample_spread_over_seeds(sweep_like: Path) -> None:
    groups = report.group([report.summarize(p) for p in report.find_runs([sweep_like])])
    assert list(groups) == ["a", "b"]
    rows = {row["experiment"]: row for row in report.table(groups)}
    a, b = rows["a"], rows["b"]
    assert a["runs"] == "2" and b["runs"] == "0 of 1 evaluated"
    assert a["FID"] == f"12.0 ± {statistics.stdev([10.0, 14.0]):.1f}" == "12.0 ± 2.8"
    assert a["precision"] == "0.700 ± 0.141" and a["classes"] == "9.5 ± 0.7"
    assert b["FID"] == "-" and b["recall"] == "-"
    # wall time: seed 0 trained 2 s, seed 1 7 s over two segments; steps/s: the median of each run
    assert a["wall time"] == "4 s" and b["wall time"] == "5 s"  # mean 4.5 s rounds to even
    assert a["steps/s"] == f"{statistics.fmean([110.0, 97.5]):.1f} ± {statistics.stdev([110.0, 97.5]):.1f}"
    assert a["epochs"] == "1.5 ± 0.707"  # seed 0 stopped at epoch 1, seed 1 at epoch 2


def test_single_run_has_no_spread(tmp_path: Path) -> None:
    run = make_run(tmp_path / "my-run", evaluation(33.3, 0.5), [60.0, 125.0], [10.0, 11.0])
    (row,) = report.table(report.group([report.summarize(run)]))
    assert row["experiment"] == "my-run" and row["FID"] == "33.3" and row["wall time"] == "2 min 05 s"


def test_report_command_writes_markdown_and_plots(sweep_like: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    code, output = gan("report", sweep_like, "--out", out)
    assert code == 0, output
    assert "12.0 ± 2.8" in output and "0 of 1 evaluated" in output
    text = (out / "report.md").read_text()
    header, _rule, row_a, row_b = [line for line in text.splitlines() if line.startswith("|")]
    assert header.split(" | ")[:4] == ["| experiment", "runs", "epochs", "FID"]
    assert row_a.startswith("| a | 2 |") and "12.0 ± 2.8" in row_a and row_b.startswith("| b | 0 of 1")
    for name in ("losses", "fid", "lipschitz", "samples"):  # fid: a logged it; lipschitz: b has a monitor
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"![{name}]({name}.png)" in text


def test_monitor_keys_come_from_the_runs_monitors(sweep_like: Path) -> None:
    runs = [report.summarize(p) for p in report.find_runs([sweep_like])]
    assert report.monitor_keys(runs) == ["spectral-product/bound"]


def test_bad_paths_are_one_line(tmp_path: Path) -> None:
    code, output = gan("report", tmp_path / "nope")
    assert code == 2 and "is neither a run folder nor a folder of runs" in output
    (tmp_path / "empty").mkdir()
    code, output = gan("report", tmp_path / "empty")
    assert code == 2 and "holds no runs" in output
    assert len(output.strip().splitlines()) == 1


@pytest.fixture
def logged_only(tmp_path: Path) -> Path:
    """Two seeds evaluated only during training (--eval-every 1), no eval.json: epochs 1 and 2."""
    root = tmp_path / "long"
    make_run(root / "x" / "seed-0", None, [1.0, 2.0, 3.0, 5.0], [10.0] * 4, fid_curve=(40.0, 20.0))
    make_run(root / "x" / "seed-1", None, [2.0, 4.0, 6.0, 8.0], [10.0] * 4, fid_curve=(60.0, 30.0))
    return root


def test_a_run_without_eval_json_reports_what_it_logged_at_its_last_epoch(logged_only: Path) -> None:
    (row,) = report.table(report.group([report.summarize(p) for p in report.find_runs([logged_only])]))
    assert row["runs"] == "2" and row["epochs"] == "2"
    assert row["FID"] == f"25.0 ± {statistics.stdev([20.0, 30.0]):.1f}"  # epoch 2, not epoch 1's 40/60


def test_epoch_reports_the_runs_as_they_were_then(logged_only: Path, tmp_path: Path) -> None:
    groups = report.group([report.summarize(p) for p in report.find_runs([logged_only])])
    (row,) = report.table(groups, epoch=1)
    assert row["epochs"] == "1" and row["FID"] == f"50.0 ± {statistics.stdev([40.0, 60.0]):.1f}"
    assert row["wall time"] == "3 s"  # training time to epoch 1: 2 s and 4 s
    run = groups["x"][0]
    assert run.image(1).name == "epoch-0001.png" and run.image(2) is None
    assert max(r["epoch"] for r in run.until(1).rows) == 1 < max(r["epoch"] for r in run.rows)  # curves stop
    out = tmp_path / "at1"
    code, output = gan("report", logged_only, "--epoch", "1", "--out", out)
    assert code == 0, output
    assert (out / "report.md").read_text().startswith("# Report at epoch 1\n")
    assert (out / "samples.png").is_file()  # the epoch-1 grids


def test_an_epoch_nobody_evaluated_is_one_line_naming_those_that_were(
    logged_only: Path, tmp_path: Path
) -> None:
    code, output = gan("report", logged_only, "--epoch", "7", "--out", tmp_path / "r")
    assert code == 2 and len(output.strip().splitlines()) == 1
    assert "--epoch 7: no run logged an evaluation then; epochs with one: 1, 2" in output
    assert not (tmp_path / "r").exists()


def test_a_run_stopped_after_its_last_evaluation_reports_that_evaluation_and_its_epoch(
    tmp_path: Path,
) -> None:
    # trained to epoch 2.5 (stopped mid-epoch), evaluated at epochs 1 and 2, no eval.json
    run = make_run(tmp_path / "stopped", None, [1.0, 2.0, 3.0, 4.0, 5.0], [10.0] * 5, fid_curve=(40.0, 20.0))
    (row,) = report.table(report.group([report.summarize(run)]))
    assert row["runs"] == "1" and row["FID"] == "20.0" and row["epochs"] == "2"
    (at_one,) = report.table(report.group([report.summarize(run)]), epoch=1)
    assert at_one["FID"] == "40.0" and at_one["epochs"] == "1"
    (past_it,) = report.table(report.group([report.summarize(run)]), epoch=3)  # never got there
    assert past_it["runs"] == "0 of 1 evaluated" and past_it["epochs"] == "2.5"
