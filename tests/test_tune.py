"""`gan tune`: a real Optuna study on ring8, with real `gan run` trials, pruning, workers, a kill.

No mocks: the trials are processes training the toy; the study is SQLite in the tune folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

optuna = pytest.importorskip("optuna")

#: a space whose lr_g runs from rates that cannot train the toy in two epochs (below ~1e-4: no point
#: near a mode, high_quality 0) to ones that do (3e-3: 0.002 after one epoch, 0.0045 after two)
SPACE = """dataset = "ring8"
device = "cpu"
loss = "hinge"
lr_d = 2e-3
eval_samples = 2000

[tune]
objective = "high_quality"
epochs = 2
eval_every = 1
start = [{ lr_g = 3e-3 }, { lr_g = 5e-3 }, { lr_g = 1e-7 }, { lr_g = 2e-7 }]

[tune.space]
lr_g = { low = 1e-7, high = 1e-2, log = true }
n_critic = [1, 2]
"""


def _study(folder: Path):
    from gancore.tools import tune as tn

    return optuna.load_study(study_name=tn.STUDY, storage=f"sqlite:///{(folder / tn.DATABASE).resolve()}")


def _tune(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "gancore.cli", "tune", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs,
    )  # fmt: skip


def _eval_rows(run: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in ("time", "it_s")} for r in rows]


def test_a_ring8_study_prunes_a_bad_trial_and_its_best_replays_bit_for_bit(tmp_path: Path) -> None:
    from gancore import testing

    (tmp_path / "space.toml").write_text(SPACE)
    out = tmp_path / "tune"
    # the start points: two rates that train first (together, on the two workers), then two that
    # cannot, which the median pruner stops at their first evaluation; then four sampled ones
    args = ("--trials", "8", "--workers", "2", "--out", str(out))
    proc = _tune(str(tmp_path / "space.toml"), *args)
    output, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, output
    study = _study(out)
    states = [t.state for t in study.trials]
    done = states.count(optuna.trial.TrialState.COMPLETE) + states.count(optuna.trial.TrialState.PRUNED)
    assert done >= 8 and states.count(optuna.trial.TrialState.PRUNED) >= 1, output
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert any(t.params["lr_g"] < 1e-6 for t in pruned), output  # a rate that cannot train
    assert {"best.toml", "history.png", "intermediate.png"} <= {p.name for p in out.iterdir()}
    best = study.best_trial
    # the best trial's own run, replayed from best.toml, gives the same rows to the last bit
    code, text = testing.gan("run", "--config", out / "best.toml", "--out", tmp_path / "replay")
    assert code == 0, text
    assert _eval_rows(tmp_path / "replay") == _eval_rows(Path(best.user_attrs["run"]))
    assert _eval_rows(tmp_path / "replay")[-1]["eval/high_quality"] == best.value > 0


def test_a_killed_study_continues_without_losing_or_rerunning_a_trial(tmp_path: Path) -> None:
    (tmp_path / "space.toml").write_text(
        "\n".join(line for line in SPACE.splitlines() if "start" not in line)
    )
    out = tmp_path / "tune"
    args = (str(tmp_path / "space.toml"), "--trials", "3", "--out", str(out), "--pruner", "none")
    proc = _tune(*args, start_new_session=True)
    deadline = time.monotonic() + 300
    while not (out / "trials" / "trial-0001" / "metrics.jsonl").is_file():  # trial 0 done, 1 running
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # gan tune and its running trial, at once
    proc.wait()
    before = {t.number: t for t in _study(out).trials}
    assert before[0].state == optuna.trial.TrialState.COMPLETE
    assert before[1].state == optuna.trial.TrialState.RUNNING
    kept = (out / "trials" / "trial-0000" / "checkpoints" / "last.safetensors").stat().st_mtime_ns
    again = _tune(*args)
    output, _ = again.communicate(timeout=600)
    assert again.returncode == 0, output
    assert "1 interrupted one(s) to retry" in output
    after = {t.number: t for t in _study(out).trials}
    assert after[0].value == before[0].value and after[0].datetime_complete == before[0].datetime_complete
    assert (out / "trials" / "trial-0000" / "checkpoints" / "last.safetensors").stat().st_mtime_ns == kept
    assert after[1].state == optuna.trial.TrialState.FAIL  # marked, and retried with its values
    retries = [t for t in after.values() if t.user_attrs.get("retry_of") == 1]
    assert len(retries) == 1 and retries[0].params == before[1].params
    assert retries[0].state == optuna.trial.TrialState.COMPLETE
    complete = [t for t in after.values() if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 3


BAD_SPACES = {
    "no-tune-table": 'dataset = "ring8"\n',
    "empty-space": 'dataset = "ring8"\n[tune]\nepochs = 1\n[tune.space]\n',
    "unknown-tune-key": 'dataset = "ring8"\n[tune]\ntrials = 3\n[tune.space]\nlr_g = [1e-3]\n',
    "unknown-setting": 'dataset = "ring8"\n[tune.space]\nlearning_rate = [1e-3]\n',
    "unknown-option": 'dataset = "ring8"\n[tune.space]\nno_such_option = [1]\n',
    "range-reversed": 'dataset = "ring8"\n[tune.space]\nlr_g = { low = 1e-2, high = 1e-4 }\n',
    "log-from-zero": 'dataset = "ring8"\n[tune.space]\nlr_g = { low = 0.0, high = 1e-2, log = true }\n',
    "range-nan": 'dataset = "ring8"\n[tune.space]\nlr_g = { low = nan, high = 1e-2 }\n',
    "range-text": 'dataset = "ring8"\n[tune.space]\nlr_g = { low = "a", high = 1e-2 }\n',
    "range-extra-key": 'dataset = "ring8"\n[tune.space]\nlr_g = { low = 1e-4, high = 1e-2, step = 2 }\n',
    "no-choices": 'dataset = "ring8"\n[tune.space]\ncritic = []\n',
    "component-missing": 'dataset = "ring8"\n[tune.space]\nloss = ["hinge", "no-such-loss"]\n',
    "impossible-value": 'dataset = "ring8"\n[tune.space]\nlr_g = { low = -1.0, high = 1e-2 }\n',
    "regs-not-lists": 'dataset = "ring8"\n[tune.space]\nregs = ["r1"]\n',
    "seed-searched": 'dataset = "ring8"\n[tune.space]\nseed = [1, 2]\n',
    "objective-unknown": 'dataset = "ring8"\n[tune]\nobjective = "fid"\n[tune.space]\nlr_g = [1e-3]\n',
    "budget-zero": 'dataset = "ring8"\n[tune]\nepochs = 0\n[tune.space]\nlr_g = [1e-3]\n',
    "bad-base-setting": 'dataset = "ring8"\nbatch_size = 0\n[tune.space]\nlr_g = [1e-3]\n',
    "not-toml": "dataset = \n",
    "start-outside": 'dataset = "ring8"\n[tune]\nstart = [{ lr_g = 1.0 }]\n[tune.space]\nlr_g = [1e-3]\n',
    "choices-same-run": 'dataset = "ring8"\nloss = "wgan-gp"\n[tune.space]\ncallbacks = [["ema"], []]\n',
    "start-unsearched": 'dataset = "ring8"\n[tune]\nstart = [{ lr_d = 1e-3 }]\n[tune.space]\nlr_g = [1e-3]\n',
}
GOOD = 'dataset = "ring8"\ndevice = "cpu"\n[tune]\nepochs = 1\n[tune.space]\nlr_g = [1e-3]\n'
BAD_CALLS = {
    "storage-not-a-url": ["--storage", "not a url"],
    "storage-unreachable": ["--storage", "postgresql://nobody@127.0.0.1:1/none"],  # or no driver
    "sampler-unknown": ["--sampler", "grid"],
    "pruner-unknown": ["--pruner", "asha"],
    "trials-zero": ["--trials", "0"],
    "workers-zero": ["--workers", "0"],
    "heartbeat-zero": ["--heartbeat", "0"],
    "cluster-unknown": ["--cluster", "lsf"],
    "cluster-config-alone": ["--cluster-config", "space.toml"],
    "slurm-on-sqlite": ["--cluster", "slurm"],
    "slurm-without-sbatch": ["--cluster", "slurm", "--storage", "postgresql://nobody@127.0.0.1:1/none"],
}


@pytest.mark.parametrize(
    ("space", "extra"),
    [*((text, []) for text in BAD_SPACES.values()), *((GOOD, args) for args in BAD_CALLS.values())],
    ids=[*BAD_SPACES, *BAD_CALLS],
)
def test_a_bad_space_or_storage_is_one_line_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, space: str, extra: list[str]
) -> None:
    from gancore.cli import app

    monkeypatch.chdir(tmp_path)
    Path("space.toml").write_text(space)
    result = CliRunner().invoke(
        app, ["tune", "space.toml", "--out", "tune", *extra], env={"COLUMNS": "300"}, catch_exceptions=False
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["space.toml"]


def test_show_needs_a_study(tmp_path: Path) -> None:
    from gancore.cli import app

    result = CliRunner().invoke(app, ["tune", str(tmp_path), "--show"], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and "holds no study" in result.stderr


def test_the_example_space_is_valid() -> None:
    from gancore.plugins import get_registry
    from gancore.tools import tune as tn

    space = tn.read_space(Path(__file__).parents[1] / "experiments" / "tune" / "ring8.toml")
    assert [p.name for p in space.params] == ["lr_g", "n_critic"] and len(space.start) == 2
    assert tn.check_space(space, get_registry()) == ("high_quality", True)  # maximized
    assert space.trial_config({"lr_g": 1e-3, "n_critic": 2})["n_critic"] == 2


def test_the_main_job_space_is_valid() -> None:
    """experiments/tune/main-job.toml, the study of docs/results.md, still resolves at every corner."""
    from gancore.plugins import get_registry
    from gancore.tools import tune as tn

    space = tn.read_space(Path(__file__).parents[1] / "experiments" / "tune" / "main-job.toml")
    assert len(space.params) == 11 and space.start[0]["gp_form"] == '"two-sided"'
    assert tn.check_space(space, get_registry()) == ("fid", False)  # minimized


def test_two_workers_share_one_postgresql_study(tmp_path: Path) -> None:
    """Two `gan tune` processes (one trial at a time each, their own trial folders) on one real
    PostgreSQL server (pgserver's bundled binaries) finish one study of four trials between them,
    and no trial is run twice."""
    pgserver = pytest.importorskip(
        "pgserver", reason="pgserver (a PostgreSQL server from pip) is not installed"
    )
    pytest.importorskip("psycopg", reason="psycopg (PostgreSQL's driver) is not installed")
    try:
        server = pgserver.get_server(tmp_path / "pg", cleanup_mode="stop")
    except Exception as exc:  # a system where its binaries cannot run
        pytest.skip(f"the PostgreSQL server could not start here: {exc}")
    try:
        url = server.get_uri()
        (tmp_path / "space.toml").write_text(
            "\n".join(line for line in SPACE.splitlines() if "start" not in line)
        )
        common = ("--trials", "4", "--storage", url, "--pruner", "none")
        workers = [
            _tune(str(tmp_path / "space.toml"), *common, "--out", str(tmp_path / f"w{i}"), "--seed", str(i))
            for i in range(2)
        ]
        outputs = [proc.communicate(timeout=600)[0] for proc in workers]
        assert [proc.returncode for proc in workers] == [0, 0], outputs
        from gancore.tools import tune as tn

        study = optuna.load_study(study_name=tn.STUDY, storage=url)
        numbers = [t.number for t in study.trials]
        assert len(numbers) == len(set(numbers)) >= 4
        complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        assert len(complete) >= 4
        folders = [p.name for i in range(2) for p in (tmp_path / f"w{i}" / "trials").iterdir() if p.is_dir()]
        assert sorted(folders) == sorted(f"trial-{n:04d}" for n in numbers)  # each trial ran once, somewhere
        assert all(any(f"trial-{t.number:04d}" in out for out in outputs) for t in complete)
    finally:
        server.cleanup()


def test_a_dead_workers_trial_is_failed_and_run_again_by_another(tmp_path: Path) -> None:
    """Worker A (its own folder, a shared storage) is killed with its trial; worker B, started
    later on the same storage, sees the trial's heartbeat stop, fails it and runs its values again."""
    (tmp_path / "space.toml").write_text(
        "\n".join(line for line in SPACE.splitlines() if "start" not in line)
    )
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    common = (str(tmp_path / "space.toml"), "--trials", "3", "--storage", url, "--heartbeat", "1")
    first = _tune(*common, "--pruner", "none", "--out", str(tmp_path / "a"), start_new_session=True)
    deadline = time.monotonic() + 300
    while not (tmp_path / "a" / "trials" / "trial-0000" / "metrics.jsonl").is_file():
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()[0]
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)  # the worker and its trial, as a lost node
    first.wait()
    time.sleep(2.5)  # past the grace period (twice the heartbeat)
    second = _tune(*common, "--pruner", "none", "--out", str(tmp_path / "b"))
    output, _ = second.communicate(timeout=600)
    assert second.returncode == 0, output
    trials = {t.number: t for t in optuna.load_study(study_name="gan-tune", storage=url).trials}
    assert trials[0].state == optuna.trial.TrialState.FAIL
    retries = [t for t in trials.values() if t.user_attrs.get("retry_of") == 0]
    assert len(retries) == 1 and retries[0].params == trials[0].params
    assert retries[0].state == optuna.trial.TrialState.COMPLETE
    assert retries[0].user_attrs["worker"] != trials[0].user_attrs["worker"]
    complete = [t for t in trials.values() if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 3 and all(t.user_attrs["run"].startswith(str(tmp_path / "b")) for t in complete)


def test_cluster_workers_share_one_study(tmp_path: Path) -> None:
    """`--cluster local`: two workers as submitit jobs (processes of their own) pull the trials of one
    study in one folder; every trial runs once, and both workers ran some."""
    pytest.importorskip("submitit", reason="submitit is not installed")
    (tmp_path / "space.toml").write_text(
        "\n".join(line for line in SPACE.splitlines() if "start" not in line)
    )
    out = tmp_path / "tune"
    proc = _tune(str(tmp_path / "space.toml"), "--trials", "6", "--workers", "2", "--cluster", "local",
                 "--pruner", "none", "--out", str(out))  # fmt: skip
    output, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, output
    trials = _study(out).trials
    assert len(trials) == 6 and all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    workers = {t.user_attrs["worker"] for t in trials}
    assert len(workers) == 2, workers  # two processes, each ran trials
    folders = sorted(p.name for p in (out / "trials").iterdir() if p.is_dir())
    assert folders == [f"trial-{n:04d}" for n in range(6)]
    assert "worker 0 (job" in output and "worker 1 (job" in output and (out / "best.toml").is_file()


def test_sigterm_stops_the_study_and_its_trial(tmp_path: Path) -> None:
    """SIGTERM to `gan tune` alone (as `kill` or a scheduler sends it) stops its running trial too: the
    trial saves its checkpoint and is recorded to run again; nothing goes on training."""
    (tmp_path / "space.toml").write_text(
        SPACE.replace("epochs = 2", "epochs = 200").replace("start = ", "# start = ")
    )
    out = tmp_path / "tune"
    proc = _tune(str(tmp_path / "space.toml"), "--trials", "2", "--out", str(out))
    deadline = time.monotonic() + 300
    while not (out / "trials" / "trial-0000" / "metrics.jsonl").is_file():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in output, output
    assert (out / "trials" / "trial-0000" / "checkpoints" / "last.safetensors").is_file()
    trial = _study(out).trials[0]
    assert trial.state == optuna.trial.TrialState.FAIL and trial.user_attrs.get("interrupted")
    log = out / "trials" / "trial-0000.log"
    size = log.stat().st_size
    time.sleep(3)  # a trial still running would go on logging
    assert log.stat().st_size == size


def test_a_study_whose_trials_all_crash_stops_after_five(tmp_path: Path) -> None:
    """A setup that fails every trial (seen: a code change under a running study) stops the study
    with one line after five crashes in a row, instead of asking for trials forever; a crash between
    finished trials does not."""
    import threading

    from gancore.errors import GancoreError
    from gancore.tools import tune as tn

    class Crashing:  # run_study's view of a Tuner: trials that crash, or finish, as told
        def __init__(self, outcomes: list[str]) -> None:
            self.study = optuna.create_study()
            self.folder, self.stopping, self.outcomes, self.lines = tmp_path, threading.Event(), outcomes, []

        def say(self, line: str) -> None:
            self.lines.append(line)

        def __call__(self, trial) -> float:
            if self.outcomes.pop(0) == "crash":
                raise RuntimeError(f"trial-{trial.number:04d} failed (exit 1): TypeError")
            return 1.0

    always = Crashing(["crash"] * 50)
    with pytest.raises(GancoreError, match="5 trials in a row failed, the last: trial-0004 failed"):
        tn.run_study(always, 3, 1)
    assert len(always.study.trials) == 5
    mixed = Crashing(["crash", "crash", "crash", "crash", "ok", "crash", "ok", "ok"])
    tn.run_study(mixed, 3, 1)
    states = [t.state for t in mixed.study.trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) == 3 and len(states) == 8
