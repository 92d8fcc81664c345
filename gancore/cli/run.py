"""`gan run`: train a pipeline assembled from plugin names, with a progress bar."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def explicit_settings(**given: Any) -> dict[str, Any]:
    """The settings a user gave (flags left out are None), for ``--config`` and recommendations to fill."""
    return {key: value for key, value in given.items() if value is not None}


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
    loss: Opt[str | None, typer.Option(help="adversarial loss (default vanilla)")] = None,
    critic: Opt[str | None, typer.Option(help="critic network (default mlp)")] = None,
    generator: Opt[str | None, typer.Option(help="generator network (default mlp)")] = None,
    reg: Opt[list[str] | None, typer.Option(help="regularizer (repeatable)")] = None,
    weighting: Opt[list[str] | None, typer.Option(help="per-sample loss weighting (repeatable)")] = None,
    callback: Opt[list[str] | None, typer.Option(help="callback, e.g. an EMA of G (repeatable)")] = None,
    critic_step: Opt[str | None, typer.Option(help="how the critic is stepped (default plain)")] = None,
    monitor: Opt[list[str] | None, typer.Option(help="Lipschitz monitor (repeatable)")] = None,
    augment: Opt[str | None, typer.Option(help="augmentations of critic inputs, comma-separated")] = None,
    schedule: Opt[
        list[str] | None, typer.Option(help="OPTION=+DELTA/Nep: change a component option every N epochs")
    ] = None,
    sampler: Opt[str | None, typer.Option(help="sampler for grids, sample and eval (default plain)")] = None,
    prior: Opt[str | None, typer.Option(help="latent prior (default normal)")] = None,
    dataset: Opt[str | None, typer.Option(help="training data (default mnist)")] = None,
    data_dir: Opt[
        str | None, typer.Option(help="dataset root (default $GANCORE_DATA or ~/.cache/gancore)")
    ] = None,
    latent_dim: Opt[int | None, typer.Option(help="latent size (default 100)")] = None,
    epochs: Opt[int | None, typer.Option(help="passes over the data (default 10)")] = None,
    steps: Opt[int | None, typer.Option(help="generator steps; overrides --epochs when > 0")] = None,
    batch_size: Opt[
        int | None,
        typer.Option(help="global batch size; under torchrun N processes take 1/N of it each (default 64)"),
    ] = None,
    optimizer: Opt[str | None, typer.Option(help="adam, rmsprop or sgd (default adam)")] = None,
    lr_g: Opt[float | None, typer.Option(help="generator learning rate (default 2e-4)")] = None,
    lr_d: Opt[float | None, typer.Option(help="critic learning rate (default 2e-4)")] = None,
    beta1: Opt[float | None, typer.Option(help="Adam beta1 (default 0.5)")] = None,
    beta2: Opt[float | None, typer.Option(help="Adam beta2 (default 0.999)")] = None,
    weight_decay_d: Opt[
        float | None, typer.Option(help="weight decay on the critic only (default 0)")
    ] = None,
    clip_grad: Opt[float | None, typer.Option(help="clip both networks' gradient norm (0: off)")] = None,
    n_critic: Opt[int | None, typer.Option(help="critic steps per generator step (default 1)")] = None,
    n_gen: Opt[int | None, typer.Option(help="generator steps per iteration (default 1)")] = None,
    lr_schedule: Opt[
        str | None, typer.Option(help="how the learning rates change over epochs (default constant)")
    ] = None,
    init_from: Opt[str | None, typer.Option(help="warm start both networks from a run or checkpoint")] = None,
    precision: Opt[
        str | None, typer.Option(help="fp32, tf32 (TF32 matmuls on CUDA) or bf16 autocast (default tf32)")
    ] = None,
    compile: Opt[
        bool | None,
        typer.Option("--compile/--no-compile", help="torch.compile the generator and critic passes"),
    ] = None,
    cuda_graphs: Opt[
        bool | None,
        typer.Option("--cuda-graphs/--no-cuda-graphs", help="replay each step as a CUDA graph (CUDA only)"),
    ] = None,
    seed: Opt[int | None, typer.Option(help="random seed (default 0)")] = None,
    device: Opt[str | None, typer.Option(help="auto, cpu, cuda, cuda:N (default auto)")] = None,
    threads: Opt[
        int | None, typer.Option(help="CPU threads (default $GANCORE_THREADS, else one per core)")
    ] = None,
    log_every: Opt[int | None, typer.Option(help="steps between metrics rows (default 50)")] = None,
    ckpt_every: Opt[int | None, typer.Option(help="also keep a numbered checkpoint every N steps")] = None,
    eval_every: Opt[
        int | None, typer.Option(help="evaluate (the dataset's metrics) every N epochs into metrics.jsonl")
    ] = None,
    eval_samples: Opt[int | None, typer.Option(help="samples per evaluation (default 10000)")] = None,
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
) -> None:
    """Train a GAN assembled from plugin names, e.g. [bold]gan run --loss vanilla --critic conv[/]."""
    if nproc is not None and nproc < 1:
        raise GancoreError(f"--nproc must be at least 1, got {nproc}")
    from gancore import config as cfg
    from gancore.eval.evaluate import run_evaluator
    from gancore.plugins import get_registry
    from gancore.train import runs
    from gancore.train.distributed import rank_from_env

    flags = explicit_settings(
        loss=loss,
        critic=critic,
        generator=generator,
        regs=reg or None,
        weightings=weighting or None,
        callbacks=callback or None,
        critic_step=critic_step,
        monitors=monitor or None,
        augment=augmentations(augment),
        schedules=schedule or None,
        sampler=sampler,
        prior=prior,
        dataset=dataset,
        data_dir=data_dir,
        latent_dim=latent_dim,
        epochs=epochs,
        steps=steps,
        batch_size=batch_size,
        optimizer=optimizer,
        lr_g=lr_g,
        lr_d=lr_d,
        beta1=beta1,
        beta2=beta2,
        weight_decay_d=weight_decay_d,
        clip_grad=clip_grad,
        n_critic=n_critic,
        n_gen=n_gen,
        lr_schedule=lr_schedule,
        init_from=init_from,
        precision=precision,
        compile=compile,
        cuda_graphs=cuda_graphs,
        seed=seed,
        device=device,
        threads=threads,
        log_every=log_every,
        ckpt_every=ckpt_every,
        eval_every=eval_every,
        eval_samples=eval_samples,
    )
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
