"""`gan sweep`: the job plan, and a real sweep of child `gan` processes on a made-up MNIST."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gancore.errors import ConfigError
from gancore.testing import gan
from gancore.tools import sweep


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path


def test_plan_puts_a_warm_start_source_first(tmp_path: Path) -> None:
    kl = write(tmp_path, "kl", 'loss = "fgan-kl"\ninit_from = "experiment:js"\n')
    js = write(tmp_path, "js", 'loss = "fgan-js"\n')
    jobs = sweep.plan([kl, js], [0, 1], tmp_path / "out")
    assert [(j.experiment, j.seed) for j in jobs] == [("js", 0), ("js", 1), ("kl", 0), ("kl", 1)]
    assert jobs[2].init_from is jobs[0] and jobs[3].init_from is jobs[1]  # same seed
    assert jobs[3].folder == tmp_path / "out" / "kl" / "seed-1"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"kl": 'init_from = "experiment:js"\n'}, "warm-starts from experiment 'js', which is not in this"),
        ({"a": 'init_from = "experiment:b"\n', "b": 'init_from = "experiment:a"\n'}, "cycle: a -> b -> a"),
        ({"a": "lr_g = \n"}, "is not valid TOML"),
        ({"a": "learning_rate = 1\n"}, "unknown key 'learning_rate'"),
    ],
)
def test_plan_refuses_bad_configs(tmp_path: Path, files: dict[str, str], message: str) -> None:
    paths = [write(tmp_path, name, text) for name, text in files.items()]
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        sweep.plan(paths, [0], tmp_path / "out")


def test_plan_refuses_two_configs_of_one_name(tmp_path: Path) -> None:
    a, b = write(tmp_path / "x", "same", ""), write(tmp_path / "y", "same", "")
    with pytest.raises(ConfigError, match="two configs are both named 'same'"):
        sweep.plan([a, b], [0], tmp_path / "out")


def test_sweep_cli_bad_input_is_one_line(tmp_path: Path) -> None:
    config = write(tmp_path, "a", "")
    for args, message in [
        (["--seeds", "0"], "--seeds must be at least 1"),
        (["--devices", "gpu7"], "unknown device 'gpu7'"),
        (["--epochs", "-1"], "--epochs must be >= 0"),
        (["--first-seed", "-2"], "--first-seed must be >= 0, got -2"),
    ]:
        code, output = gan("sweep", config, "--out", tmp_path / "out", *args)
        assert code == 2 and message in output and len(output.strip().splitlines()) == 1, output
    assert not (tmp_path / "out").exists()


@pytest.fixture
def small_sweep(tmp_path: Path, tiny_mnist: Path, monkeypatch: pytest.MonkeyPatch):
    """Three configs on the made-up MNIST: a, b (warm-started from a) and one whose batch cannot fit."""
    monkeypatch.setenv("GANCORE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    base = 'batch_size = 32\nlog_every = 2\ncritic = "mlp"\n'
    configs = [
        write(tmp_path / "exp", "a", base + 'loss = "vanilla"\n'),
        write(tmp_path / "exp", "b", base + 'loss = "lsgan"\ninit_from = "experiment:a"\n'),
        write(tmp_path / "exp", "huge", 'batch_size = 4096\nloss = "vanilla"\n'),
    ]
    out = tmp_path / "sweep"
    args = ["--seeds", "2", "--steps", "6", "--out", out, "--data-dir", tiny_mnist,
            "--eval-samples", "64", "--n-real", "100", "--devices", "cpu,cpu"]  # fmt: skip
    return configs, out, args


def test_sweep_trains_evaluates_reports_and_restarts(small_sweep) -> None:
    configs, out, args = small_sweep
    code, output = gan("sweep", *configs, *args)
    # the job that cannot run fails alone, with the reason from its log; every other job is evaluated
    assert code == 2 and "2 of 6 jobs failed (huge seed 0, huge seed 1)" in output
    status = json.loads((out / "logs" / "huge-seed-0.json").read_text())
    assert status["state"] == "failed" and "larger than the dataset" in status["reason"]
    evals = {}
    for name in ("a", "b"):
        for seed in (0, 1):
            run = out / name / f"seed-{seed}"
            evals[name, seed] = json.loads((run / "eval.json").read_text())
            assert evals[name, seed]["n_samples"] == 64
            config = (run / "config.toml").read_text()
            assert f"seed = {seed}\n" in config and "steps = 6\n" in config
    assert f'init_from = "{out / "a" / "seed-1"}"' in (out / "b" / "seed-1" / "config.toml").read_text()
    assert evals["a", 0]["fid"] != evals["a", 1]["fid"]  # two seeds, two different runs
    table = (out / "report" / "report.md").read_text()
    assert "| a | 2 | 0.75 |" in table and "| b | 2 |" in table  # 6 of 256 // 32 = 8 steps an epoch

    # run again: finished jobs are skipped, nothing is retrained or re-evaluated
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.safetensors")}
    code, output = gan("sweep", *configs, *args)
    assert code == 2 and output.count("earlier, skipped") == 6 and "--retry-failed" in output
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.safetensors")} == stamps

    # the failing config fixed: --retry-failed runs its two jobs, and only them
    write(configs[2].parent, "huge", 'batch_size = 32\nloss = "vanilla"\n')
    code, output = gan("sweep", *configs, *args, "--retry-failed")
    assert code == 0 and output.count("retried") == 2 and output.count("evaluated earlier, skipped") == 4
    assert (out / "huge" / "seed-1" / "eval.json").is_file()
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.safetensors") if p in stamps} == stamps


def test_sweep_resumes_an_interrupted_job(small_sweep) -> None:
    configs, out, args = small_sweep
    folder = out / "a" / "seed-0"
    # a job stopped at step 3: its folder holds a checkpoint and no sweep status
    code, output = gan("run", "--config", configs[0], "--steps", "3", "--out", folder,
                       "--data-dir", args[args.index("--data-dir") + 1], "--device", "cpu")  # fmt: skip
    assert code == 0, output
    code, output = gan("sweep", configs[0], *args)
    assert code == 0, output
    log = (out / "logs" / "a-seed-0.log").read_text()
    assert f"run --resume={folder}" in log
    assert [r["step"] for r in map(json.loads, (folder / "metrics.jsonl").read_text().splitlines())] == [
        2, 3, 4, 6]  # fmt: skip
    assert (folder / "eval.json").is_file()


def test_sweep_callbacks_are_added_to_each_configs_own(tmp_path: Path) -> None:
    # `gan run --callback` replaces the config's list, so the sweep passes the config's first
    ema = write(tmp_path, "ema", 'callbacks = ["ema"]\n')
    plain = write(tmp_path, "plain", "")
    settings = sweep.Settings(out=tmp_path / "out", callbacks=("tensorboard", "ema"))
    jobs = sweep.plan([ema, plain], [0], settings.out)
    flags = [
        [a for a in sweep.run_command(job, settings, "cpu") if a.startswith("--callback")] for job in jobs
    ]
    assert flags == [
        ["--callback=ema", "--callback=tensorboard"],
        ["--callback=tensorboard", "--callback=ema"],
    ]
    assert not [
        a for a in sweep.run_command(jobs[1], sweep.Settings(out=settings.out), "cpu") if "--callback" in a
    ]
