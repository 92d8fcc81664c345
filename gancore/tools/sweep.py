"""`gan sweep`: run experiment configs over several seeds, one job per device at a time.

Each job is one config and one seed, trained and evaluated by the `gan` command itself in a child
process (``gan run --config ...`` then ``gan eval``), so a job that diverges or crashes is recorded and
the sweep goes on. The layout under ``--out``:

    <out>/<experiment>/seed-<s>/     a normal run folder, with eval.json once evaluated
    <out>/logs/<experiment>-seed-<s>.log    what the job printed
    <out>/logs/<experiment>-seed-<s>.json   its state (trained, evaluated, interrupted, failed) and why

Ctrl-C stops the running jobs (each saves a checkpoint, as `gan run` does) and starts no other.
Running the same sweep again skips evaluated jobs, evaluates trained ones, resumes interrupted ones
from their last checkpoint (from step 0 when they saved none) and leaves failed ones alone
(delete the run folder to retry one).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import attrs

from gancore.config import EXPERIMENT_REF, read_toml
from gancore.errors import ConfigError, Interrupted
from gancore.io.atomic import write_atomic


@attrs.frozen
class Job:
    experiment: str  # the config file's stem
    config: Path
    seed: int
    folder: Path
    init_from: Job | None = None  # the job whose run this one warm-starts from

    @property
    def label(self) -> str:
        return f"{self.experiment} seed {self.seed}"

    def log_path(self, out: Path) -> Path:
        return out / "logs" / f"{self.experiment}-seed-{self.seed}.log"

    def status_path(self, out: Path) -> Path:
        return out / "logs" / f"{self.experiment}-seed-{self.seed}.json"


@attrs.frozen(kw_only=True)
class Settings:
    """What every job of a sweep shares; ``None`` leaves the config file's value."""

    out: Path
    devices: tuple[str, ...] = ("auto",)
    epochs: int | None = None
    steps: int | None = None
    data_dir: str | None = None
    eval_every: int | None = None
    eval_samples: int = 10_000
    n_real: int = 10_000


def plan(configs: list[Path], seeds: list[int], out: Path) -> list[Job]:
    """Every (config, seed) job, a warm-start source before the jobs that start from it."""
    if not configs:
        raise ConfigError("give at least one experiment config (e.g. experiments/*.toml)")
    if not seeds:
        raise ConfigError("--seeds must be at least 1")
    by_name: dict[str, Path] = {}
    for path in configs:
        if path.stem in by_name:
            raise ConfigError(f"two configs are both named {path.stem!r}: {by_name[path.stem]} and {path}")
        by_name[path.stem] = path
    sources = {name: _warm_start_source(path, by_name) for name, path in by_name.items()}
    ordered: list[str] = []

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in chain:
            raise ConfigError(f"warm starts form a cycle: {' -> '.join((*chain, name))}")
        if name in ordered:
            return
        if sources[name]:
            visit(sources[name], (*chain, name))
        ordered.append(name)

    for name in by_name:
        visit(name, ())
    jobs: dict[tuple[str, int], Job] = {}
    for name in ordered:
        for seed in seeds:
            source = jobs[sources[name], seed] if sources[name] else None
            folder = out / name / f"seed-{seed}"
            jobs[name, seed] = Job(name, by_name[name], seed, folder, source)
    return list(jobs.values())


def _warm_start_source(path: Path, by_name: dict[str, Path]) -> str | None:
    init_from = str(read_toml(path).get("init_from", ""))  # also rejects a bad file before any work
    if not init_from.startswith(EXPERIMENT_REF):
        return None
    name = init_from.removeprefix(EXPERIMENT_REF)
    if name not in by_name:
        raise ConfigError(
            f"{path} warm-starts from experiment {name!r}, which is not in this sweep; add {name}.toml"
        )
    return name


def run_command(job: Job, settings: Settings, device: str) -> list[str]:
    """The `gan run` that trains a job, or resumes it when its folder already holds a checkpoint."""
    gan = [sys.executable, "-m", "gancore.cli"]
    lengths = (("epochs", settings.epochs), ("steps", settings.steps))
    common = [f"--device={device}", *(f"--{k}={v}" for k, v in lengths if v is not None)]
    if settings.eval_every is not None:
        common.append(f"--eval-every={settings.eval_every}")
    if settings.data_dir:
        common.append(f"--data-dir={settings.data_dir}")
    if (job.folder / "config.toml").is_file():  # started before: resumed, from step 0 if it saved nothing
        return [*gan, "run", f"--resume={job.folder}", *common]
    command = [*gan, "run", f"--config={job.config}", f"--seed={job.seed}", f"--out={job.folder}", *common]
    if job.init_from is not None:
        command.append(f"--init-from={job.init_from.folder}")
    return command


def eval_command(job: Job, settings: Settings, device: str) -> list[str]:
    command = [sys.executable, "-m", "gancore.cli", "eval", str(job.folder), f"--device={device}"]
    command += [f"--n={settings.eval_samples}", f"--n-real={settings.n_real}"]
    if settings.data_dir:
        command.append(f"--data-dir={settings.data_dir}")
    return command


def read_status(job: Job, out: Path) -> dict:
    path = job.status_path(out)
    return json.loads(path.read_text()) if path.is_file() else {}


class Runner:
    """Runs jobs on a pool of devices; a job waits for the job it warm-starts from."""

    def __init__(self, settings: Settings, say: Callable[[str], None]) -> None:
        self.settings = settings
        self.say = say
        self.free = list(settings.devices)
        self.lock = threading.Lock()
        self.finished: dict[Job, threading.Event] = {}
        self.status: dict[Job, dict] = {}
        self.stopping = False

    def run(self, jobs: list[Job]) -> dict[Job, dict]:
        (self.settings.out / "logs").mkdir(parents=True, exist_ok=True)
        self.finished = {job: threading.Event() for job in jobs}
        pool = ThreadPoolExecutor(max_workers=len(self.settings.devices))
        # jobs start in plan order, so a warm-start source has always started before its users wait
        futures = [pool.submit(self._one, job) for job in jobs]
        try:
            for future in futures:
                future.result()
        except KeyboardInterrupt:
            # Ctrl-C reached the running jobs too: they save a checkpoint and stop; start no other
            self.stopping = True
            pool.shutdown(wait=True, cancel_futures=True)
            raise Interrupted(
                f"sweep interrupted; running jobs saved a checkpoint (logs in {self.settings.out / 'logs'})."
                " Run the same command again to continue"
            ) from None
        pool.shutdown()
        return self.status

    def _one(self, job: Job) -> None:
        try:
            if job.init_from is not None:
                self.finished[job.init_from].wait()
            self.status[job] = self._work(job)
        finally:
            self.finished[job].set()

    def _work(self, job: Job) -> dict:
        out = self.settings.out
        status = read_status(job, out)
        if status.get("state") in ("evaluated", "failed"):
            self.say(f"{job.label}: {status['state']} earlier, skipped")
            return status
        if self.stopping:
            return {"state": "not started"}
        source = job.init_from
        if source is not None and self.status.get(source, {}).get("state") not in ("trained", "evaluated"):
            return self._record(job, {"state": "failed", "reason": f"its warm start {source.label} failed"})
        with self.lock:
            device = self.free.pop(0)
        try:
            if status.get("state") != "trained":
                status = self._step(job, "train", run_command(job, self.settings, device), "trained", status)
                if status["state"] != "trained":  # failed, or interrupted
                    return status
            return self._step(job, "eval", eval_command(job, self.settings, device), "evaluated", status)
        finally:
            with self.lock:
                self.free.append(device)

    def _step(self, job: Job, what: str, command: list[str], done: str, status: dict) -> dict:
        out = self.settings.out
        self.say(f"{job.label}: {what} on {_device_of(command)}")
        began = time.perf_counter()
        with job.log_path(out).open("a") as log:
            log.write(f"$ {' '.join(command)}\n")
            log.flush()
            code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT, env=self._env())
        seconds = round(time.perf_counter() - began, 1)
        status = {**status, f"{what}_seconds": seconds, "experiment": job.experiment, "seed": job.seed}
        if code == Interrupted.exit_code or (code != 0 and self.stopping):  # a later sweep resumes it
            return self._record(job, {**status, "state": "interrupted"})
        if code != 0:
            reason = _last_line(job.log_path(out)) or f"exit code {code}"
            return self._record(job, {**status, "state": "failed", "exit_code": code, "reason": reason})
        return self._record(job, {**status, "state": done})

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        sharing = sum(1 for d in self.settings.devices if d in ("cpu", "auto"))
        if sharing > 1 and "OMP_NUM_THREADS" not in env:  # jobs sharing the CPU split its cores
            env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // sharing))
        return env

    def _record(self, job: Job, status: dict) -> dict:
        write_atomic(job.status_path(self.settings.out), json.dumps(status, indent=2) + "\n")
        if status["state"] == "failed":
            self.say(f"{job.label}: [red]failed[/]: {status['reason']}")
        return status


def _device_of(command: list[str]) -> str:
    return next(a.split("=", 1)[1] for a in command if a.startswith("--device="))


def _last_line(log: Path) -> str:
    """The job's error line, else the last line that says something (not a box border)."""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines()]
    errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
    words = [line for line in lines if any(c.isalnum() for c in line)]
    return (errors or words or [""])[-1]
