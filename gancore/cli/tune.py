"""`gan tune`: search a space of run settings with Optuna; every trial is a run folder."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from gancore.cli.shared import ClusterConfigOpt, Opt, cluster_opt, err, wide_out
from gancore.errors import GancoreError

EXAMPLE = """Example (docs/usage.md has more):

  gan tune experiments/tune/ring8.toml --trials 20 --workers 2 --out tune/ring8
  gan tune tune/ring8 --show          # the best trials, best.toml and the plots
  gan run --config tune/ring8/best.toml --out runs/best   # replay the best trial
"""


def tune(
    source: Opt[
        Path, typer.Argument(help="a space file (a run config with a [tune] table), or a tune folder")
    ],
    trials: Opt[int, typer.Option(help="trials to finish (completed or pruned), in all")] = 20,
    out: Opt[Path | None, typer.Option(help="the tune folder: study.db, trials/, best.toml, plots")] = None,
    workers: Opt[int, typer.Option(help="trials run at once on this machine")] = 1,
    sampler: Opt[str, typer.Option(help="tpe, random or cmaes")] = "tpe",
    pruner: Opt[str, typer.Option(help="median, hyperband or none")] = "median",
    storage: Opt[
        str | None, typer.Option(help="an SQLAlchemy URL (postgresql://...) shared by workers elsewhere")
    ] = None,
    seed: Opt[int, typer.Option(help="the sampler's random seed")] = 0,
    heartbeat: Opt[
        int,
        typer.Option(
            help="seconds between a running trial's heartbeats; a trial silent for twice this (its worker"
            " was killed) is failed and run again by another worker"
        ),
    ] = 60,
    cluster: cluster_opt("the --workers as cluster jobs") = None,
    cluster_config: ClusterConfigOpt = None,
    show: Opt[
        bool, typer.Option("--show", help="show a tune folder's best trials and write its plots")
    ] = False,
) -> None:
    """Search run settings with Optuna: each trial a `gan run`, pruned early from its evaluations."""
    from gancore.tools import tune as tn

    if show:
        if not source.is_dir():
            raise GancoreError(f"--show takes a tune folder, and {source} is not a folder")
        _show(source, storage)
        return
    if trials < 1 or workers < 1:
        raise GancoreError(f"--trials and --workers must be at least 1, got {trials} and {workers}")
    if sampler not in tn.SAMPLERS or pruner not in tn.PRUNERS:
        raise GancoreError(
            f"--sampler is one of {', '.join(tn.SAMPLERS)} and --pruner one of {', '.join(tn.PRUNERS)};"
            f" got {sampler} and {pruner}"
        )
    if out is None:
        raise GancoreError("give the tune folder: --out DIR (the same DIR continues a study)")
    if heartbeat < 1:
        raise GancoreError(f"--heartbeat must be at least 1 second, got {heartbeat}")
    engine = _cluster(cluster, cluster_config, storage)
    from gancore.io import lock
    from gancore.io.atomic import write_atomic
    from gancore.io.outputs import check_folder
    from gancore.plugins import get_registry
    from gancore.train.threads import available

    check_folder(out, "--out ")
    space = tn.read_space(source)
    registry = get_registry()
    objective, maximize = tn.check_space(space, registry)
    text = source.read_text()
    copy = out / tn.SPACE_COPY
    if copy.is_file() and copy.read_text() != text:
        raise GancoreError(f"{out} holds a study of another space ({copy}); choose another --out")
    if out.exists() and not copy.is_file() and any(out.iterdir()):
        raise GancoreError(f"{out} exists and is not a tune folder; choose another --out")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # refused before any folder
    shared = tn.make_storage(storage, out, heartbeat) if storage is not None else None
    (out / "trials").mkdir(parents=True, exist_ok=True)
    with lock.hold(out):
        write_atomic(copy, text)
        study = optuna.create_study(
            storage=shared or tn.make_storage(None, out, heartbeat),
            study_name=tn.STUDY,
            load_if_exists=True,
            sampler=tn.make_sampler(sampler, seed),
            pruner=tn.make_pruner(pruner),
            direction="maximize" if maximize else "minimize",
        )
        if not study.get_trials(deepcopy=False):  # a new study: the space's start points first
            for point in space.start:
                study.enqueue_trial(point)
        retried = tn.retry_stale(study) if storage is None else 0
        done = tn.finished(study)
        err.print(
            f"study {out}: {done} of {trials} trials finished"
            + (f", {retried} interrupted one(s) to retry" if retried else "")
            + f"; {objective} {'maximized' if maximize else 'minimized'}, {workers} worker(s)"
            + (f" as {engine.describe()}" if engine is not None else ""),
            highlight=False,
        )
        say = lambda line: err.print(line, highlight=False)  # noqa: E731
        _stop_on_sigterm()
        if engine is None:
            tuner = tn.Tuner(space, study, out, objective, max(1, available() // workers), say, trial_main)
            tn.run_study(tuner, trials, workers)
        else:
            job = tn.WorkerJob(
                str(source.resolve()), str(out.resolve()), storage, trials, sampler, pruner, seed,
                heartbeat, engine.cpus_per_job, objective, maximize, os.getcwd(),
            )  # fmt: skip
            _run_workers(engine, job, workers, out, say)
        _report(study, out)


def _stop_on_sigterm() -> None:
    """SIGTERM (``kill``, a scheduler) stops the study as Ctrl-C does: each running trial is stopped
    with SIGINT (it saves its checkpoint) and recorded to be run again. Without this the trials,
    forked from a server process, went on training after `gan tune` itself was gone."""
    import signal

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def _cluster(cluster: str | None, cluster_config: Path | None, storage: str | None):
    """The cluster engine's settings (None: workers are threads of this process), checked in one line."""
    if cluster is None:
        if cluster_config is not None:
            raise GancoreError("--cluster-config needs --cluster (slurm, or local/debug to try it here)")
        return None
    from gancore.tools.cluster import check_available, read_cluster_config

    engine = read_cluster_config(cluster, cluster_config)
    if engine.engine == "slurm" and (storage is None or storage.startswith("sqlite")):
        raise GancoreError(
            "--cluster slurm needs --storage with a database server every node reaches (e.g."
            " postgresql://user@host/db): SQLite over a shared filesystem is not safe for many writers"
        )
    check_available(engine)
    return engine


def _run_workers(engine, job, workers: int, out: Path, say) -> None:
    """``workers`` cluster jobs, each a worker on the shared study; waits for all of them."""
    import attrs

    from gancore.errors import Interrupted
    from gancore.tools import tune as tn
    from gancore.tools.cluster import submit

    submitted = []
    for i in range(workers):
        each = attrs.evolve(job, seed=job.seed + i)  # a sampler seed of its own: not the same trials
        handle = submit(engine, out / "submitit", f"gan-tune-{i}", tn.cluster_worker, each, trial_main)
        say(f"worker {i} submitted to {engine.engine} as job {handle.job_id}")
        submitted.append(handle)
    try:
        for i, handle in enumerate(submitted):
            try:
                ran = handle.result()
            except Exception as exc:  # the cluster ended it, or the worker failed: the others go on
                say(f"worker {i} (job {handle.job_id}) ended: {str(exc).strip().splitlines()[0]}")
            else:
                say(f"worker {i} (job {handle.job_id}) ran {ran} trial(s)")
    except KeyboardInterrupt:
        for handle in submitted:
            handle.cancel(check=False)
        raise Interrupted(
            f"interrupted: the workers were cancelled; finished trials are kept ({out})"
        ) from None


def trial_main(argv: list[str], log: str) -> None:
    """A trial, in its forked process: `gan *argv`, its output appended to the trial's log."""
    import os
    import signal

    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # the fork server ignores it
    from gancore.cli import app

    app(args=argv, prog_name="gan")


def _show(folder: Path, storage: str | None) -> None:
    import optuna

    from gancore.tools import tune as tn

    if storage is None and not (folder / tn.DATABASE).is_file():
        raise GancoreError(
            f"{folder} holds no study ({tn.DATABASE}); run gan tune SPACE --out {folder} first"
        )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=tn.STUDY, storage=tn.make_storage(storage, folder))
    _report(study, folder)


def _shown(value) -> str:
    """A trial's value as the space file wrote it: a choice (stored as JSON text) decoded, a float
    to four significant digits."""
    import json

    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return value
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _report(study, folder: Path) -> None:
    import optuna
    from rich.table import Table

    from gancore.tools import tune as tn

    states = [t.state for t in study.get_trials(deepcopy=False)]
    count = {s: states.count(s) for s in optuna.trial.TrialState}
    table = Table(header_style="bold", box=None)
    for column in ("trial", "value", *(study.best_trial.params if tn.best_trials(study, 1) else ())):
        table.add_column(column, justify="right")
    for trial in tn.best_trials(study, 5):
        table.add_row(str(trial.number), f"{trial.value:.4g}", *(_shown(v) for v in trial.params.values()))
    wide_out().print(table)
    written = tn.write_results(study, folder)
    state = optuna.trial.TrialState
    err.print(
        f"{count[state.COMPLETE]} complete, {count[state.PRUNED]} pruned, {count[state.FAIL]} failed;"
        f" [green]wrote[/] {', '.join(str(p) for p in written)}",
        highlight=False,
    )
