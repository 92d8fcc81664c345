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

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO

import attrs

from gancore.config import EXPERIMENT_REF, read_toml
from gancore.errors import ConfigError, Interrupted
from gancore.io.atomic import write_atomic
from gancore.tools.cluster import ClusterConfig


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
    #: added to every config's own callbacks (e.g. tensorboard, to watch the whole sweep)
    callbacks: tuple[str, ...] = ()
    #: run the jobs that failed in an earlier sweep again (their cause fixed), from the step that failed
    retry_failed: bool = False


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


def with_added_callbacks(own: str | list[str], settings: Settings) -> list[str]:
    """A config's callbacks (one name or a list), then the sweep's ``--callback`` ones it lacks."""
    own = [own] if isinstance(own, str) else list(own)
    return [*own, *(c for c in settings.callbacks if c not in own)]


def check_jobs(jobs: list[Job], settings: Settings, local: bool = True) -> None:
    """Every experiment's settings, as its job's `gan run` will resolve them, validated before any
    folder is made or job started (``train.validate``): one line, naming the config, for the first
    that cannot train. ``local``: the jobs run here (a cluster's nodes have devices of their own)."""
    from gancore.config import resolve
    from gancore.plugins import get_registry
    from gancore.train.validate import validate

    registry = get_registry()
    for job in {job.config: job for job in jobs}.values():
        explicit = read_toml(job.config)
        options = dict(explicit.pop("options", {}))
        if str(explicit.get("init_from", "")).startswith(EXPERIMENT_REF):
            explicit.pop("init_from")  # another experiment's run: it does not exist yet
        lengths = {"epochs": settings.epochs, "steps": settings.steps, "eval_every": settings.eval_every}
        explicit.update({k: v for k, v in lengths.items() if v is not None})
        if settings.data_dir:
            explicit["data_dir"] = settings.data_dir
        if settings.callbacks:
            explicit["callbacks"] = with_added_callbacks(explicit.get("callbacks", []), settings)
        explicit.update(seed=job.seed, device=settings.devices[0] if local else "auto")
        try:
            validate(resolve(registry, explicit, options), registry)
        except ConfigError as exc:
            raise ConfigError(f"{job.config}: {exc}") from None


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
    if settings.callbacks:  # --callback replaces the config's list: give the config's, then the added
        own = read_toml(job.config).get("callbacks", [])
        command += [f"--callback={name}" for name in with_added_callbacks(own, settings)]
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


@attrs.frozen
class Step:
    """One command of a job (its training or its evaluation) and the job's state once it succeeds."""

    what: str
    command: tuple[str, ...]
    done: str


def job_steps(job: Job, settings: Settings, device: str, status: dict) -> list[Step]:
    """What a job still has to do: train (or resume) unless trained, then evaluate."""
    steps = (
        []
        if status.get("state") == "trained"
        else [Step("train", tuple(run_command(job, settings, device)), "trained")]
    )
    return [*steps, Step("eval", tuple(eval_command(job, settings, device)), "evaluated")]


def run_steps(
    job: Job,
    out: Path,
    steps: list[Step],
    *,
    threads: int | None = None,
    cwd: str | None = None,
    say: Callable[[str], None] | None = None,
    stopping: Callable[[], bool] = lambda: False,
    cluster_job: bool = False,
) -> dict:
    """Run a job's steps in turn, appending their output to the job's log and recording its state
    (``<out>/logs/<job>.json``) after each; stop at the first that does not succeed.

    Called by the sweep's own threads, or on a cluster node inside a submitit job (``cwd``: the
    folder the sweep was started in, where relative paths point; ``cluster_job``: see ``_call``).
    ``threads`` sets OMP_NUM_THREADS for the job where the environment does not.
    """
    env = dict(os.environ)
    if threads is not None and "OMP_NUM_THREADS" not in env:
        env["OMP_NUM_THREADS"] = str(threads)
    status = read_status(job, out)
    for step in steps:
        if say is not None:
            say(f"{job.label}: {step.what} on {_device_of(list(step.command))}")
        began = time.perf_counter()
        with job.log_path(out).open("a") as log:
            log.write(f"$ {' '.join(step.command)}\n")
            log.flush()
            code = _call(list(step.command), log, env, cwd, own_session=cluster_job)
        seconds = round(time.perf_counter() - began, 1)
        status = {**status, f"{step.what}_seconds": seconds, "experiment": job.experiment, "seed": job.seed}
        if code == Interrupted.exit_code or (code != 0 and stopping()):  # a later sweep resumes it
            return _record(job, out, {**status, "state": "interrupted"})
        if code != 0:
            reason = _last_line(job.log_path(out)) or f"exit code {code}"
            failed = {"state": "failed", "exit_code": code, "reason": reason, "failed_step": step.what}
            return _record(job, out, {**status, **failed})
        status = _record(job, out, {**status, "state": step.done})
    return status


def _call(command: list[str], log: IO[str], env: dict[str, str], cwd: str | None, own_session: bool) -> int:
    """The command's exit code. In a cluster job's process (``own_session``) the command does not
    see the signals sent to the job; the first SIGINT is passed on, once, so the run saves a
    checkpoint and stops as after one Ctrl-C (a second one would kill it before it saved)."""
    with subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                          start_new_session=own_session) as process:  # fmt: skip
        try:
            return process.wait()
        except KeyboardInterrupt:
            if not own_session:
                raise
            process.send_signal(signal.SIGINT)
        while True:
            try:
                return process.wait()
            except KeyboardInterrupt:  # more SIGINTs for the job: the run is already stopping
                continue


def _record(job: Job, out: Path, status: dict) -> dict:
    write_atomic(job.status_path(out), json.dumps(status, indent=2) + "\n")
    return status


class Runner:
    """Runs jobs on a pool of devices, or submits them to a cluster engine (``cluster``); a job
    waits for the job it warm-starts from."""

    def __init__(
        self, settings: Settings, say: Callable[[str], None], cluster: ClusterConfig | None = None
    ) -> None:
        self.settings = settings
        self.say = say
        self.cluster = cluster
        self.free = list(settings.devices)
        self.lock = threading.Lock()
        self.finished: dict[Job, threading.Event] = {}
        self.status: dict[Job, dict] = {}
        self.submitted: list = []  # the Slurm jobs, cancelled on Ctrl-C
        self.stopping = False

    def slots(self, jobs: list[Job]) -> int:
        """Jobs at once: one per device here; on a cluster, max_parallel (0: every job)."""
        if self.cluster is None:
            return len(self.settings.devices)
        return self.cluster.max_parallel or len(jobs)

    def run(self, jobs: list[Job]) -> dict[Job, dict]:
        (self.settings.out / "logs").mkdir(parents=True, exist_ok=True)
        self.finished = {job: threading.Event() for job in jobs}
        pool = ThreadPoolExecutor(max_workers=max(1, self.slots(jobs)))
        # jobs start in plan order, so a warm-start source has always started before its users wait
        futures = [pool.submit(self._one, job) for job in jobs]
        try:
            for future in futures:
                future.result()
        except KeyboardInterrupt:
            # Ctrl-C reached the running jobs too: they save a checkpoint and stop; start no other
            self.stopping = True
            if self.cluster is not None and self.cluster.engine == "slurm":
                # local and debug jobs are processes of this terminal: Ctrl-C reached them already
                self._cancel_submitted()
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
            if self.status[job].get("state") == "failed":
                self.say(f"{job.label}: [red]failed[/]: {self.status[job]['reason']}")
        finally:
            self.finished[job].set()

    def _work(self, job: Job) -> dict:
        out = self.settings.out
        status = read_status(job, out)
        retry = status.get("state") == "failed" and self.settings.retry_failed
        if status.get("state") in ("evaluated", "failed") and not retry:
            hint = " (--retry-failed runs it again)" if status["state"] == "failed" else ""
            self.say(f"{job.label}: {status['state']} earlier, skipped{hint}")
            return status
        if retry:  # a job whose evaluation failed keeps its training; one whose training failed resumes it
            self.say(f"{job.label}: failed earlier ({status.get('reason', '?')}), retried")
            status = {"state": "trained"} if status.get("failed_step") == "eval" else {}
        if self.stopping:
            return {"state": "not started"}
        source = job.init_from
        if source is not None and self.status.get(source, {}).get("state") not in ("trained", "evaluated"):
            return _record(job, out, {"state": "failed", "reason": f"its warm start {source.label} failed"})
        if self.cluster is not None:
            return self._submit(job, status)
        with self.lock:
            device = self.free.pop(0)
        try:
            steps = job_steps(job, self.settings, device, status)
            return run_steps(
                job, out, steps, threads=self._threads(), say=self.say, stopping=lambda: self.stopping
            )
        finally:
            with self.lock:
                self.free.append(device)

    def _submit(self, job: Job, status: dict) -> dict:
        """The job's steps as one cluster job, on the one device every job names (``auto``: the GPU the
        cluster gives it); waits for it and returns the state it recorded."""
        from gancore.tools.cluster import submit

        out, cluster = self.settings.out, self.cluster
        steps = job_steps(job, self.settings, self.settings.devices[0], status)
        name = f"gan-{job.experiment}-seed-{job.seed}"
        submitted = submit(cluster, out / "submitit", name, run_steps, job, out, steps,
                           threads=cluster.cpus_per_job, cwd=os.getcwd(),
                           cluster_job=cluster.engine != "debug")  # fmt: skip
        with self.lock:
            self.submitted.append(submitted)
        what = " and ".join(step.what for step in steps)
        self.say(f"{job.label}: {what} submitted to {cluster.engine} as job {submitted.job_id}")
        try:
            submitted.result()  # the job records its state itself; this waits for it
        except Exception as exc:  # the cluster ended it (time limit, cancelled, node failure)
            # submitit's first line says what happened (its later lines are the job's stderr)
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            recorded = read_status(job, out)
            if recorded.get("state") in ("evaluated", "failed"):
                return recorded
            self.say(f"{job.label}: cluster job {submitted.job_id} ended unfinished ({reason});"
                     " run the sweep again to continue it")  # fmt: skip
            return _record(job, out, {**recorded, "state": "interrupted", "reason": reason})
        return read_status(job, out)

    def _cancel_submitted(self) -> None:
        with self.lock:
            for submitted in self.submitted:
                # one already finished, or an engine gone, has nothing left to stop
                with contextlib.suppress(Exception):
                    submitted.cancel(check=False)

    def _threads(self) -> int | None:
        sharing = sum(1 for d in self.settings.devices if d in ("cpu", "auto"))
        if sharing > 1:  # jobs sharing the CPU split its cores
            return max(1, (os.cpu_count() or 1) // sharing)
        return None


def _device_of(command: list[str]) -> str:
    return next(a.split("=", 1)[1] for a in command if a.startswith("--device="))


def _last_line(log: Path) -> str:
    """The job's error line, else the last line that says something (not a box border)."""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines()]
    errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
    words = [line for line in lines if any(c.isalnum() for c in line)]
    return (errors or words or [""])[-1]
