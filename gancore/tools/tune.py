"""`gan tune`: a hyperparameter search on Optuna, each trial an ordinary `gan run` folder.

A space file is a run config (any `gan run` key, ``[options]`` included) plus a ``[tune]`` table::

    [tune]
    objective = "fid"        # a metric of the dataset's evaluation (default: its first), minimized
                             # or maximized as the metric says
    epochs = 4               # the budget of each trial (or steps = N)
    eval_every = 1           # epochs between the evaluations the pruner sees
    start = [{ lr_g = 2e-4 }]  # optional: points tried first (a known-good setting), as Optuna's
                             # enqueue_trial; keys left out are sampled

    [tune.space]
    lr_g = { low = 1e-4, high = 1e-2, log = true }    # a float range (log or linear)
    n_critic = { low = 1, high = 5 }                    # whole numbers: an int range
    critic = ["conv", "mlp"]                            # choices: names, numbers, or lists
    dropout = { low = 0.0, high = 0.5 }                 # a component option, like any setting

Each trial's config (the space file's settings with the trial's values) is written to
``DIR/trials/trial-NNNN.toml`` and trained by `gan run --config` into ``DIR/trials/trial-NNNN/`` in a
process of its own; its evaluations (metrics.jsonl) are the trial's intermediate values, and when the
pruner says so the run is stopped with SIGINT (it saves its checkpoint, as after Ctrl-C). The study
lives in ``DIR/study.db`` (SQLite) unless ``--storage`` names another database; `gan tune` holds
DIR's lock while it runs, so trials left RUNNING by a killed `gan tune` are marked failed and
retried with the same values when it starts again.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import tomli_w

from gancore.config import FIELDS, LIST_KEYS, resolve, settings_from
from gancore.errors import ConfigError, GancoreError, Interrupted
from gancore.io.atomic import atomic_path, write_atomic

SAMPLERS = ("tpe", "random", "cmaes")
#: trials failing one after another that stop a study: a broken setup, not bad values
CRASHES_IN_A_ROW = 5
PRUNERS = ("median", "hyperband", "none")
STUDY = "gan-tune"
#: what a tune folder holds besides trials/
SPACE_COPY, BEST, DATABASE, ASK_LOCK = "space.toml", "best.toml", "study.db", ".ask.lock"
TUNE_KEYS = ("objective", "epochs", "steps", "eval_every", "space", "start")


@attrs.frozen
class Param:
    """One searched key: a float or int range, or a list of choices."""

    name: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    def stored(self, value: Any) -> Any:
        """``value`` as the study stores it (a choice as its JSON text); refused when out of the space."""
        if self.choices:
            if value not in self.choices:
                raise ConfigError(f"start value {self.name} = {value!r} is not one of its choices")
            return json.dumps(value)
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not self.low <= value <= self.high
        ):
            raise ConfigError(f"start value {self.name} = {value!r} is outside [{self.low}, {self.high}]")
        return value

    def suggest(self, trial: Any) -> Any:
        if self.choices:
            # Optuna stores choices as plain values: a list (regs = [[], ["r1"]]) goes as JSON text
            index = trial.suggest_categorical(self.name, [json.dumps(c) for c in self.choices])
            return json.loads(index)
        if isinstance(self.low, int) and isinstance(self.high, int):
            return trial.suggest_int(self.name, self.low, self.high, log=self.log)
        return trial.suggest_float(self.name, float(self.low), float(self.high), log=self.log)


@attrs.frozen
class Space:
    """A parsed space file: the base settings and options, what is searched, and the budget."""

    path: Path
    settings: dict[str, Any]
    options: dict[str, Any]
    params: tuple[Param, ...]
    objective: str | None
    budget: dict[str, int]
    #: points to try first, as the study stores them
    start: tuple[dict[str, Any], ...] = ()

    def trial_config(self, values: dict[str, Any]) -> dict[str, Any]:
        """The run config of a trial with ``values`` (run settings and component options)."""
        settings, options = dict(self.settings), dict(self.options)
        for name, value in values.items():
            if name in FIELDS:
                settings[name] = value
            else:
                options[name] = value
        return {**settings, **self.budget, "options": options}


def read_space(path: Path) -> Space:
    """A space file, every key, range and choice checked (one ConfigError line each)."""
    try:
        document = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"space file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"space file {path} is a folder; give a .toml file with a [tune] table") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"space file {path} is not valid TOML: {exc}") from None
    tune = document.pop("tune", None)
    if not isinstance(tune, dict):
        raise ConfigError(f"{path} has no [tune] table; add one with a [tune.space] of searched keys")
    unknown = sorted(set(tune) - set(TUNE_KEYS))
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} in [tune] of {path}; known: {', '.join(TUNE_KEYS)}")
    space = tune.get("space")
    if not isinstance(space, dict) or not space:
        raise ConfigError(f"[tune.space] of {path} is missing or empty; name at least one searched key")
    budget = {k: tune[k] for k in ("epochs", "steps", "eval_every") if k in tune}
    for key, value in budget.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{key} in [tune] of {path} must be a whole number >= 1, got {value!r}")
    if "eval_every" not in budget:
        budget["eval_every"] = 1  # the pruner needs intermediate values
    objective = tune.get("objective")
    if objective is not None and not isinstance(objective, str):
        raise ConfigError(f"objective in [tune] of {path} must be a metric name, got {objective!r}")
    settings = settings_from(document, path)  # as `gan run --config` reads a file
    options = dict(settings.pop("options", {}))
    params = tuple(_param(path, name, spec) for name, spec in space.items())
    by_name = {p.name: p for p in params}
    start = tune.get("start", [])
    if not isinstance(start, list) or not all(isinstance(point, dict) for point in start):
        raise ConfigError(f"start in [tune] of {path} must be a list of tables, e.g. [{{ lr_g = 2e-4 }}]")
    points = []
    for point in start:
        unknown = sorted(set(point) - set(by_name))
        if unknown:
            raise ConfigError(
                f"start in [tune] of {path} names {unknown[0]!r}, which [tune.space] does not search"
            )
        points.append({name: by_name[name].stored(value) for name, value in point.items()})
    return Space(path, settings, options, params, objective, budget, tuple(points))


def _param(path: Path, name: str, spec: Any) -> Param:
    where = f"{name} in [tune.space] of {path}"
    if name in ("options", "seed", "out", "resume"):
        raise ConfigError(f"{where}: {name} cannot be searched")
    if isinstance(spec, list):
        if not spec:
            raise ConfigError(f"{where}: an empty list of choices; give at least one")
        if name in LIST_KEYS and not all(isinstance(c, list) for c in spec):
            raise ConfigError(f'{where}: {name} is a list setting; give lists of names, e.g. [[], ["r1"]]')
        return Param(name, choices=tuple(spec))
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: give a list of choices or a range {{ low = ..., high = ... }}")
    extra = sorted(set(spec) - {"low", "high", "log"})
    if extra:
        raise ConfigError(f"{where}: unknown key {extra[0]!r} (a range has low, high and log)")
    low, high, log = spec.get("low"), spec.get("high"), spec.get("log", False)
    for bound, value in (("low", low), ("high", high)):
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            raise ConfigError(f"{where}: {bound} must be a finite number, got {value!r}")
    if not isinstance(log, bool):
        raise ConfigError(f"{where}: log must be true or false, got {log!r}")
    if not low < high:
        raise ConfigError(f"{where}: low ({low}) must be below high ({high})")
    if log and low <= 0:
        raise ConfigError(f"{where}: a log range needs low > 0, got {low}")
    return Param(name, low, high, log)


def check_space(space: Space, registry: Any) -> tuple[str, bool]:
    """Every corner of the space resolves and validates as a run (before any trial starts); returns
    the objective's metric key and whether it is maximized."""
    from gancore.eval.evaluate import evaluation_for
    from gancore.train.validate import validate

    first = {p.name: (p.choices[0] if p.choices else p.low) for p in space.params}
    # (the value varied, the corner): every setting at its first value, then one varied at a time
    corners: list[tuple[dict[str, Any], dict[str, Any]]] = [(first, first)]
    corners += [({p.name: c}, {**first, p.name: c}) for p in space.params for c in p.choices[1:]]
    corners += [({p.name: p.high}, {**first, p.name: p.high}) for p in space.params if not p.choices]
    runs: dict[str, dict[str, Any]] = {p.name: {} for p in space.params if p.choices}  # run -> choice
    for varied, values in corners:
        config = space.trial_config(values)
        options = config.pop("options")
        try:
            resolved = resolve(registry, config, options)
            validate(resolved, registry)
        except ConfigError as exc:
            shown = ", ".join(f"{k} = {v!r}" for k, v in varied.items())
            raise ConfigError(f"{space.path}, trial with {shown}: {exc}") from None
        text = resolved.to_toml()
        for name in varied if varied is not first else runs:
            if name not in runs:
                continue  # a range: its ends always differ
            seen = runs[name]
            if text in seen:  # a choice that resolves to another's run searches nothing
                raise ConfigError(
                    f"{space.path}: {name} = {seen[text]!r} and {values[name]!r} resolve to the same run"
                    " (a component's recommendations add to a list setting); search a setting that differs"
                )
            seen[text] = values[name]
    dataset = space.settings.get("dataset", FIELDS["dataset"].default)
    evaluation = evaluation_for(dataset, registry, space.options)
    metrics = {m.key: m for m in evaluation.metrics}
    key = space.objective or evaluation.metrics[0].key
    if key not in metrics:
        raise ConfigError(
            f"objective {key!r} is not a metric of dataset {dataset!r}; it has {', '.join(metrics)}"
        )
    return key, not metrics[key].better.startswith("lower")  # "higher", "all": maximized


def make_storage(url: str | None, folder: Path, heartbeat: int = 0) -> Any:
    """An Optuna RDB storage: ``url``, else SQLite in ``folder``. With ``heartbeat`` (seconds), each
    running trial's worker records a heartbeat that often, and a trial whose heartbeat is older than
    twice that (its worker was killed, or its node lost) is failed by the next worker that asks for
    a trial and queued again with the same values."""
    import optuna

    url = url or f"sqlite:///{(folder / DATABASE).resolve()}"
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    beats: dict[str, Any] = {}
    if heartbeat:
        beats = {
            "heartbeat_interval": heartbeat,
            "grace_period": 2 * heartbeat,
            "heartbeat_stale_trial_callback": requeue,
        }

    for attempt in range(5):
        try:
            with warnings.catch_warnings():  # Optuna marks heartbeats experimental (since 2.9)
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, engine_kwargs=engine, **beats)
        except Exception as exc:  # a bad URL, a missing driver, a server that does not answer
            # workers creating the study's tables at once: the losers' CREATE fails, once
            if _lost_creation_race(exc) and attempt < 4:
                time.sleep(1 + attempt)
                continue
            raise ConfigError(f"--storage {url}: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    raise AssertionError("unreachable")


def requeue(study: Any, trial: Any) -> None:
    """A trial failed as stale (or left behind by a killed `gan tune`): its values queued again."""
    study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number}, skip_if_exists=False)


def _lost_creation_race(exc: Exception) -> bool:
    """Whether ``exc`` is what a worker gets when another one created the same tables, types or
    version row a moment before it: a unique violation (PostgreSQL's catalog, Optuna's version row)
    or a duplicate table or type; retrying finds them made."""
    from sqlalchemy import exc as sql

    if isinstance(exc, sql.IntegrityError):
        return True
    return isinstance(exc, sql.ProgrammingError) and "already exists" in str(exc)


def make_sampler(name: str, seed: int) -> Any:
    import optuna

    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=4)


def make_pruner(name: str) -> Any:
    import optuna

    if name == "hyperband":
        return optuna.pruners.HyperbandPruner()
    if name == "none":
        return optuna.pruners.NopPruner()
    # two finished trials before any is pruned (from a trial's first evaluation on)
    return optuna.pruners.MedianPruner(n_startup_trials=2)


@attrs.define
class Tuner:
    """Runs a study's trials on this machine: ``workers`` at once, each a `gan run` process."""

    space: Space
    study: Any
    folder: Path
    objective: str
    threads: int
    say: Callable[[str], None]
    #: runs `gan *argv` with its output in a log file, in a forked trial process (the CLI's own)
    entry: Callable[[list[str], str], None]
    stopping: threading.Event = attrs.field(factory=threading.Event)

    def __call__(self, trial: Any) -> float:
        import optuna

        values = {p.name: p.suggest(trial) for p in self.space.params}
        name = f"trial-{trial.number:04d}"
        config_path = self.folder / "trials" / f"{name}.toml"
        run = self.folder / "trials" / name
        config = self.space.trial_config(values)
        config.setdefault("seed", 0)
        write_atomic(config_path, tomli_w.dumps({**config, "threads": self.threads}))
        trial.set_user_attr("run", str(run))
        trial.set_user_attr("worker", worker_name())
        argv = ["run", f"--config={config_path}", f"--out={run}"]
        self.say(f"{name}: {', '.join(f'{k} {v}' for k, v in values.items())}")
        proc = TrialProcess(argv, self.folder / "trials" / f"{name}.log", self.entry)
        seen, pruned, beat = 0, False, Heartbeat(self.study, trial)
        while True:
            beat()
            done = proc.poll() is not None
            for epoch, value in self._evaluations(run)[seen:]:
                seen += 1
                trial.report(value, epoch)
                if not pruned and trial.should_prune():
                    pruned = True
                    proc.send_signal(signal.SIGINT)  # it saves its checkpoint and stops
            if done:
                break
            if self.stopping.is_set():
                proc.send_signal(signal.SIGINT)
                proc.wait()
                trial.set_user_attr("interrupted", True)
                raise Interrupted("interrupted")
            time.sleep(0.3)
        code = proc.poll()
        evaluations = self._evaluations(run)
        if pruned:
            self.say(f"{name}: pruned at epoch {evaluations[-1][0] if evaluations else 0}")
            raise optuna.TrialPruned()
        last = _tail(run.with_suffix(".log"))
        if code == 1 and "non-finite" in last:
            trial.set_user_attr("diverged", True)
            self.say(f"{name}: diverged; pruned")
            raise optuna.TrialPruned()
        if code == Interrupted.exit_code:  # Ctrl-C reached the trial: the study stops here too
            self.stopping.set()
            trial.set_user_attr("interrupted", True)
            raise Interrupted(f"interrupted during {name}; continue with the same gan tune command")
        if code == 2:
            raise ConfigError(f"{name} was refused: {last}")
        if code != 0 or not evaluations:
            raise RuntimeError(f"{name} failed (exit {code}): {last}")
        self.say(f"{name}: {self.objective} {evaluations[-1][1]:.4g}")
        return evaluations[-1][1]

    def _evaluations(self, run: Path) -> list[tuple[int, float]]:
        """(epoch, objective) of every evaluation the run has logged so far."""
        path = run / "metrics.jsonl"
        if not path.is_file():
            return []
        out = []
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line being written
            value = row.get(f"eval/{self.objective}")
            if isinstance(value, int | float) and math.isfinite(value):
                out.append((round(row.get("epoch", 0)), float(value)))
        return out


def worker_name() -> str:
    """Who ran a trial (its ``worker`` attribute): the host and process of its `gan tune` worker."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Heartbeat:
    """Records the trial's heartbeat in the storage every interval the storage was made with (none:
    nothing to do), so that other workers can tell a running trial from one whose worker died."""

    def __init__(self, study: Any, trial: Any) -> None:
        storage = study._storage
        interval = storage.get_heartbeat_interval() if hasattr(storage, "get_heartbeat_interval") else None
        self.record = (lambda: storage.record_heartbeat(trial._trial_id)) if interval else None
        self.interval, self.last = interval or 0, -math.inf

    def __call__(self) -> None:
        if self.record is not None and time.monotonic() - self.last >= self.interval:
            self.record()
            self.last = time.monotonic()


#: what a trial process imports before it is forked, so that a trial starts in about a second, not
#: six (measured on the 2-core VM: torch._dynamo, which torch's first optimizer imports, is 5 s)
PRELOAD = ["torch", "torch._dynamo", "gancore.cli", "gancore.train.runs", "gancore.eval.evaluate"]
_context: Any = None


class TrialProcess:
    """`gan run` for one trial (``entry``): forked from a server that has torch and gancore imported
    already (multiprocessing's forkserver) where the system has one, else a new Python process. Either way
    it is in gan tune's process group: a Ctrl-C reaches the trials too (each saves and stops), and
    a kill of the group leaves no trial running without its study."""

    def __init__(self, argv: list[str], log: Path, entry: Callable[[list[str], str], None]) -> None:
        import multiprocessing

        global _context
        self.popen: subprocess.Popen | None = None
        self.process: Any = None
        if "forkserver" in multiprocessing.get_all_start_methods():
            if _context is None:
                _context = multiprocessing.get_context("forkserver")
                _context.set_forkserver_preload(PRELOAD)
            self.process = _context.Process(target=entry, args=(argv, str(log)), daemon=False)
            self.process.start()
        else:
            with log.open("a") as out:
                command = [sys.executable, "-m", "gancore.cli", *argv]
                self.popen = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)

    def poll(self) -> int | None:
        if self.popen is not None:
            return self.popen.poll()
        code = self.process.exitcode
        return code if code is None or code >= 0 else 128 - code  # -N: killed by signal N

    def send_signal(self, signum: int) -> None:
        if self.popen is not None:
            self.popen.send_signal(signum)
        elif self.process.exitcode is None:
            os.kill(self.process.pid, signum)

    def wait(self) -> int:
        if self.popen is not None:
            return self.popen.wait()
        self.process.join()
        return self.poll()


def _tail(path: Path) -> str:
    lines = [line for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []
    return lines[-1].strip() if lines else ""


def retry_stale(study: Any) -> int:
    """Trials a killed `gan tune` left RUNNING (failed here) and trials stopped by Ctrl-C: their
    values queued again, once; returns how many. Only called while this process holds the tune
    folder's lock, so none of them is really running."""
    import optuna

    states = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    stale = [
        t for t in trials
        if t.state == states.RUNNING or (t.state == states.FAIL and t.user_attrs.get("interrupted"))
    ]  # fmt: skip
    stale = [t for t in stale if t.number not in retried]
    for trial in stale:
        if trial.state == states.RUNNING:
            study._storage.set_trial_state_values(trial._trial_id, states.FAIL)
        requeue(study, trial)
    return len(stale)


def finished(study: Any) -> int:
    import optuna

    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return len(study.get_trials(deepcopy=False, states=done))


def run_study(tuner: Tuner, trials: int, workers: int) -> None:
    """Trials until ``trials`` have finished (complete or pruned), ``workers`` at a time.

    Each worker asks the study for its next trial under one lock, of this process's threads and of
    every `gan tune` process working in the same folder (a file lock): SQLite cannot lock the row of
    a queued trial, and two of Optuna's own threads could take the same one (seen here: both started
    trial 0). Before asking, stale trials (a dead worker's, see ``make_storage``) are failed and queued
    again.
    """

    import optuna

    states = optuna.trial.TrialState
    asking = AskLock(tuner.folder / ASK_LOCK)
    failures: list[BaseException] = []
    crashes: list[str] = []  # the crashes since the last trial that finished

    def worker() -> None:
        while not tuner.stopping.is_set():
            with asking:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    optuna.storages.fail_stale_trials(tuner.study)
                taken = tuner.study.get_trials(
                    deepcopy=False, states=(states.COMPLETE, states.PRUNED, states.RUNNING)
                )
                if len(taken) >= trials:
                    return
                with warnings.catch_warnings():  # heartbeats work with ask/tell too: we record them
                    warnings.filterwarnings("ignore", "Heartbeat of storage", UserWarning)
                    trial = tuner.study.ask()
            try:
                value = tuner(trial)
            except optuna.TrialPruned:
                tuner.study.tell(trial, state=states.PRUNED)
                crashes.clear()
            except RuntimeError as exc:  # a trial that crashed: recorded, the study goes on
                tuner.say(str(exc))
                tuner.study.tell(trial, state=states.FAIL)
                crashes.append(str(exc))
                if len(crashes) >= CRASHES_IN_A_ROW:  # the setup, not the values: stop asking
                    failures.append(
                        GancoreError(
                            f"{CRASHES_IN_A_ROW} trials in a row failed, the last: {crashes[-1]}; see its"
                            f" log in {tuner.folder / 'trials'}, fix the cause, then run the same command"
                        )
                    )
                    tuner.stopping.set()
                    return
            except BaseException as exc:
                tuner.study.tell(trial, state=states.FAIL)
                failures.append(exc)
                tuner.stopping.set()
                return
            else:
                tuner.study.tell(trial, value)
                crashes.clear()  # a trial finished: the setup works

    # each worker says when it is done with an event of its own: a Thread.join that a signal's
    # exception interrupts can report the thread finished while it still runs (CPython 3.11; seen
    # here: gan tune exited while its worker was still stopping the trial, which trained on)
    done = [threading.Event() for _ in range(workers)]

    def run(event: threading.Event) -> None:
        try:
            worker()
        finally:
            event.set()

    for event in done:
        threading.Thread(target=run, args=(event,), daemon=True).start()
    try:
        for event in done:
            while not event.wait(0.5):
                pass
    except KeyboardInterrupt:
        tuner.stopping.set()  # each worker stops its trial (which saves) and records it
        for event in done:
            event.wait()
        raise Interrupted(
            f"interrupted: finished trials are kept; continue with the same gan tune command ({tuner.folder})"
        ) from None
    if failures:
        raise failures[0]


class AskLock:
    """A lock held by one thread of one process at a time: a thread lock around a file lock."""

    def __init__(self, path: Path) -> None:
        self.path, self.thread_lock = path, threading.Lock()
        self.fd = -1

    def __enter__(self) -> None:
        import fcntl

        self.thread_lock.acquire()
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # releases the file lock
        self.thread_lock.release()


def best_trials(study: Any, n: int = 5) -> list[Any]:
    import optuna

    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    return sorted(done, key=lambda t: -t.value if maximize else t.value)[:n]


def write_results(study: Any, folder: Path) -> list[Path]:
    """best.toml (the best trial's own config.toml: `gan run --config` replays it) and the plots."""
    best = best_trials(study, 1)
    if not best:
        raise GancoreError(f"no trial of {folder} has finished yet; nothing to show")
    run = Path(best[0].user_attrs["run"])
    written = [folder / BEST]
    write_atomic(written[0], (run / "config.toml").read_text())
    return written + plots(study, folder)


def plots(study: Any, folder: Path) -> list[Path]:
    """history.png, intermediate.png and (with two finished trials or more) importances.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna
    from optuna.visualization import matplotlib as views

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    made = []
    drawings: list[tuple[str, Callable[[], Any]]] = [
        ("history.png", lambda: views.plot_optimization_history(study)),
        ("intermediate.png", lambda: views.plot_intermediate_values(study)),
    ]
    if len(best_trials(study, 2)) >= 2 and study.best_trial.params:
        evaluator = optuna.importance.PedAnovaImportanceEvaluator()
        drawings.append(("importances.png", lambda: views.plot_param_importances(study, evaluator=evaluator)))

    for name, draw in drawings:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna marks its matplotlib views experimental
            try:
                axes = draw()
            except (ValueError, RuntimeError):
                continue  # e.g. importances of a search with a single distinct value
        figure = axes.figure if hasattr(axes, "figure") else plt.gcf()
        figure.set_size_inches(7, 4.5)
        figure.tight_layout()
        path = folder / name
        with atomic_path(path) as tmp:
            figure.savefig(tmp, dpi=100, format="png")
        plt.close(figure)
        made.append(path)
    return made


@attrs.frozen
class WorkerJob:
    """What one worker of `gan tune --cluster` needs in its cluster job (moved there by submitit)."""

    space: str
    folder: str
    storage: str | None
    trials: int
    sampler: str
    pruner: str
    seed: int
    heartbeat: int
    threads: int
    objective: str
    maximize: bool
    cwd: str


def cluster_worker(job: WorkerJob, entry: Callable[[list[str], str], None]) -> int:
    """A worker in a cluster job: trials from the shared study, one at a time, until ``job.trials``
    have finished; returns how many it ran. ``entry`` runs a trial (the CLI's)."""
    import optuna

    from gancore.train.threads import available

    os.chdir(job.cwd)  # relative paths in the space mean what they meant where gan tune was started
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    folder = Path(job.folder)
    study = optuna.create_study(
        storage=make_storage(job.storage, folder, job.heartbeat),
        study_name=STUDY,
        load_if_exists=True,
        sampler=make_sampler(job.sampler, job.seed),
        pruner=make_pruner(job.pruner),
        direction="maximize" if job.maximize else "minimize",
    )
    threads = max(1, min(job.threads, available()))
    say = lambda line: print(line, flush=True)  # noqa: E731 (the job's log)
    tuner = Tuner(read_space(Path(job.space)), study, folder, job.objective, threads, say, entry)
    run_study(tuner, job.trials, 1)
    me = worker_name()
    return sum(t.user_attrs.get("worker") == me for t in study.get_trials(deepcopy=False))
