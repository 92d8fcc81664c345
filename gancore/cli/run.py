"""`gan run`: train a pipeline assembled from plugin names, with a progress bar."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import attrs
import typer
from rich.console import Console

from gancore.cli.component_options import ARGV, GIVEN
from gancore.cli.shared import Opt, err
from gancore.errors import GancoreError, warn


class RichReporter:
    """A progress bar: epoch, step count, it/s, ETA and the latest losses."""

    def __init__(self, console: Console) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("epoch {task.fields[epoch]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[speed]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[losses]}"),
            console=console,
        )
        self.task = None
        self.evaluated = ""
        self.per_epoch = 1
        self.epochs = 1

    def start(self, total: int, done: int, steps_per_epoch: int) -> None:
        self.per_epoch = steps_per_epoch
        self.epochs = -(-total // steps_per_epoch)
        self.progress.start()
        self.task = self.progress.add_task(
            "train", total=total, completed=done, epoch=self._epoch(done), speed="", losses=""
        )

    def _epoch(self, done: int) -> str:
        return f"{min(done // self.per_epoch + 1, self.epochs)}/{self.epochs}"

    def advance(self, done: int) -> None:
        self.progress.update(self.task, completed=done, epoch=self._epoch(done))

    def log(self, row: dict[str, float]) -> None:
        shown = [k for k in row if k.startswith("eval/")]
        if shown:  # an evaluation row: keep its headline (the evaluation's first metric) in view
            key, value = shown[0], row[shown[0]]
            self.evaluated = f"  {key.removeprefix('eval/')} {value:.4g}" if value is not None else ""
            return
        keys = ("d_loss", "g_loss", "d_acc_real", "d_acc_fake")
        losses = "  ".join(f"{k} {row[k]:.3f}" for k in keys if k in row) + self.evaluated
        self.progress.update(self.task, speed=f"{row['it_s']:.0f} it/s", losses=losses)

    def stop(self) -> None:
        self.progress.stop()


#: settings that are not flags: set by the run itself, or given as the components' own flags
NOT_FLAGS = ("processes", "options")


def setting_parameters() -> list[inspect.Parameter]:
    """`gan run`'s flag for every run setting, generated from ``RunConfig``'s fields: the help is
    the field's, the type its type (None: not given, so that --config and recommendations fill it)
    and the default shown is the field's default."""
    from gancore.config import REPEATED_FLAGS, RunConfig

    params = []
    for field in attrs.fields(RunConfig):
        if field.name in NOT_FLAGS:
            continue
        name = REPEATED_FLAGS.get(field.name, field.name)
        flag = "--" + name.replace("_", "-")
        shown = field.metadata.get("default_text")
        if (
            shown is None
            and not isinstance(field.default, attrs.Factory)
            and field.default not in (0, "", False)
        ):
            shown = field.default  # lists (a factory) have none: none selected
        help = field.metadata["help"] + (f" (default {shown})" if shown is not None and shown != "" else "")
        if field.name in REPEATED_FLAGS:
            kind: Any = list[str] | None
            option = typer.Option(flag, help=help)
        else:
            # the config module's annotations are strings (postponed); augment is comma-separated text
            base = {"str": str, "int": int, "float": float, "bool": bool}.get(field.type, str)
            names = f"{flag}/--no-{flag[2:]}" if base is bool else flag
            kind, option = base | None, typer.Option(names, help=help)
        keyword = inspect.Parameter.POSITIONAL_OR_KEYWORD  # Typer passes every value by keyword
        params.append(inspect.Parameter(name, keyword, default=None, annotation=Opt[kind, option]))
    return params


def explicit_settings(given: dict[str, Any]) -> dict[str, Any]:
    """The settings a user gave as flags (flags left out are None), by setting name, for
    ``--config`` and recommendations to fill."""
    from gancore.config import REPEATED_FLAGS

    keys = {flag: key for key, flag in REPEATED_FLAGS.items()}
    settings = {keys.get(name, name): value for name, value in given.items() if value is not None}
    for key in REPEATED_FLAGS:
        if key in settings and not settings[key]:
            del settings[key]  # a repeatable flag not given is an empty list
    if "augment" in settings:
        settings["augment"] = augmentations(settings["augment"])
    return settings


def _write_failed(exc: OSError, folder: Path | None) -> str:
    """A read or write that failed mid-run (a full disk ...): what failed, and what is kept."""
    from gancore.cli.shared import os_error_message
    from gancore.io.rundir import RunDir

    line = os_error_message(exc)
    if folder is not None and RunDir(folder).last.is_file():  # checkpoints are replaced atomically
        line += f"; its last good checkpoint is kept: continue with gan run --resume {folder}"
    return line


def run(
    ctx: typer.Context,
    out: Opt[Path | None, typer.Option(help="run folder (default runs/<loss>-<timestamp>)")] = None,
    config: Opt[Path | None, typer.Option(help="TOML file of settings; flags override it")] = None,
    resume: Opt[Path | None, typer.Option(help="continue this run folder from its last checkpoint")] = None,
    nproc: Opt[
        int | None,
        typer.Option(
            help="train on N processes of this machine (torchrun's launcher; gloo on CPU, nccl on GPUs),"
            " splitting each global --batch-size between them"
        ),
    ] = None,
    **given: Any,
) -> None:
    """Train a GAN assembled from plugin names, e.g. [bold]gan run --loss vanilla --critic conv[/]."""
    if nproc is not None and nproc < 1:
        raise GancoreError(f"--nproc must be at least 1, got {nproc}")
    from gancore import config as cfg
    from gancore.eval.evaluate import run_evaluator
    from gancore.plugins import get_registry
    from gancore.train import runs
    from gancore.train.distributed import rank_from_env

    flags = explicit_settings(given)
    options = ctx.meta.get(GIVEN, {})
    registry = get_registry()
    if resume is not None and (config is not None or out is not None or options):
        raise GancoreError("--resume continues a run as configured; drop --config, --out and component flags")
    settings = None
    if resume is None:
        explicit = cfg.read_toml(config) if config is not None else {}
        for line in cfg.plugin_differences(config) if config is not None else []:
            warn(line)
        explicit_options = dict(explicit.pop("options", {}))
        explicit_options.update(options)
        explicit.update(flags)
        settings = cfg.resolve(registry, explicit, explicit_options)
    if nproc is not None and nproc > 1:
        _launch(ctx, nproc, settings, resume, out, flags, registry)
        return
    main = rank_from_env() == 0  # under torchrun only rank 0 draws the progress bar and says done
    reporter = RichReporter(err) if main else None
    folder = resume
    try:
        if resume is not None:
            trainer = runs.resume(resume, flags, reporter, registry, run_evaluator)
        else:
            from gancore.io.rundir import default_run_path

            folder = out or default_run_path(settings.loss.rpartition(":")[2])  # no plugin: in a folder name
            trainer = runs.start(settings, folder, reporter, registry, run_evaluator)
    except OSError as exc:
        raise GancoreError(_write_failed(exc, folder)) from None
    finally:
        if reporter is not None and reporter.task is not None:
            reporter.stop()
    if main:
        err.print(f"[green]done[/]: {trainer.run.path} (step {trainer.last_saved})", highlight=False)


def augmentations(text: str | None) -> list[str] | None:
    """``--augment translation,cutout`` as names; ``--augment ""`` selects none; an empty name between
    commas (``--augment ,``) is refused, not read as none."""
    if text is None:
        return None
    if text.strip() == "":
        return []
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise GancoreError(
            f"--augment {text!r} has an empty name; give names separated by commas, e.g. translation,cutout"
        )
    return names


def _launch(
    ctx: typer.Context, nproc: int, settings: Any, resume: Path | None, out: Path | None, flags: dict,
    registry: Any,
) -> None:  # fmt: skip
    """``--nproc N``: the settings validated once here, for N processes, before any process starts
    (each would otherwise print the same error line)."""
    from gancore.cli.launch import launch, without_nproc
    from gancore.config import recorded_plugins
    from gancore.io.rundir import RunDir
    from gancore.train import runs
    from gancore.train.distributed import launched
    from gancore.train.validate import validate

    if launched():
        raise GancoreError("--nproc starts its own processes; drop it when running under torchrun")
    if resume is not None:
        run = RunDir(resume).require()
        runs.resumed_config(run, flags, registry.preferring(recorded_plugins(run.config)), nproc)
    else:
        validate(settings, registry, nproc)
        if out is not None and RunDir(out).taken():
            RunDir(out).create()  # raises its "already exists" line
    launch(nproc, ["run", *without_nproc(ctx.meta[ARGV])])


def _signature() -> inspect.Signature:
    """``run``'s own parameters with the generated setting flags in place of ``**given``, in the
    order of RunConfig's fields: what Typer reads to make the command."""
    params = inspect.signature(run, eval_str=True).parameters.values()  # this module's are strings
    own = [p for p in params if p.kind != inspect.Parameter.VAR_KEYWORD]
    return inspect.Signature([own[0], *setting_parameters(), *own[1:]], return_annotation=None)


run.__signature__ = _signature()
