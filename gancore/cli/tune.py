"""`gan tune`: search a space of run settings with Optuna; every trial is a run folder."""

from __future__ import annotations

from pathlib import Path

import typer

from gancore.cli.shared import Opt, err, wide_out
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
    shared = tn.make_storage(storage, out) if storage is not None else None  # refused before any folder
    (out / "trials").mkdir(parents=True, exist_ok=True)
    with lock.hold(out):
        write_atomic(copy, text)
        study = optuna.create_study(
            storage=shared or tn.make_storage(None, out),
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
            + f"; {objective} {'maximized' if maximize else 'minimized'}, {workers} worker(s)",
            highlight=False,
        )
        threads = max(1, available() // workers)
        say = lambda line: err.print(line, highlight=False)  # noqa: E731
        tuner = tn.Tuner(space, study, out, objective, threads, say, trial_main)
        tn.run_study(tuner, trials, workers)
        _report(study, out)


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
        table.add_row(str(trial.number), f"{trial.value:.4g}", *(str(v) for v in trial.params.values()))
    wide_out().print(table)
    written = tn.write_results(study, folder)
    state = optuna.trial.TrialState
    err.print(
        f"{count[state.COMPLETE]} complete, {count[state.PRUNED]} pruned, {count[state.FAIL]} failed;"
        f" [green]wrote[/] {', '.join(str(p) for p in written)}",
        highlight=False,
    )
