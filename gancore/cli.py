"""The `gan` command line: run, sample, plot, report, sweep, plugins (eval lives in gancore.metrics.cli)."""

from __future__ import annotations

import functools
import os
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from gancore.errors import GancoreError

app = typer.Typer(
    name="gan",
    help="Train, sample and compare GANs; every technique is a plugin you name on the command line.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    add_completion=False,
)
plugins_app = typer.Typer(help="List installed plugins, or show one component's options.")
app.add_typer(plugins_app, name="plugins")

out = Console()
err = Console(stderr=True)


def fail(message: str, code: int) -> typer.Exit:
    from rich.markup import escape

    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def reports_errors(command):
    """One line and an exit code for every error a user can meet; a traceback only with GANCORE_DEBUG."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from gancore.errors import Interrupted

        try:
            return command(*args, **kwargs)
        except Interrupted as exc:
            err.print(str(exc), style="yellow", highlight=False, soft_wrap=True, markup=False)
            raise typer.Exit(exc.exit_code) from None
        except GancoreError as exc:
            if os.environ.get("GANCORE_DEBUG"):
                traceback.print_exc()
            raise fail(str(exc), exc.exit_code) from None
        except (typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:
            raise fail("interrupted twice: stopped without saving", 130) from None
        except Exception as exc:
            from gancore.plugins import PluginFailed, plugin_behind

            if os.environ.get("GANCORE_DEBUG"):
                traceback.print_exc()
            plugin = plugin_behind(exc.__traceback__)
            if plugin is None:
                raise
            raise fail(f"{PluginFailed(plugin, exc)} (GANCORE_DEBUG=1 shows the traceback)", 1) from None

    return wrapper


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
        self.fid = ""
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
        if "eval/fid" in row:  # an evaluation row: keep its FID in view until the next one
            self.fid = f"  FID {row['eval/fid']:.2f}"
            return
        keys = ("d_loss", "g_loss", "d_acc_real", "d_acc_fake")
        losses = "  ".join(f"{k} {row[k]:.3f}" for k in keys if k in row) + self.fid
        self.progress.update(self.task, speed=f"{row['it_s']:.0f} it/s", losses=losses)

    def stop(self) -> None:
        self.progress.stop()


Opt = Annotated


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    epilog="Components add their own flags (e.g. --saturating, --dropout 0.3): "
    "`gan plugins show NAME` lists them.",
)
@reports_errors
def run(
    ctx: typer.Context,
    loss: Opt[str | None, typer.Option(help="adversarial loss (default vanilla)")] = None,
    critic: Opt[str | None, typer.Option(help="critic network (default mlp)")] = None,
    generator: Opt[str | None, typer.Option(help="generator network (default mlp)")] = None,
    reg: Opt[list[str] | None, typer.Option(help="regularizer (repeatable)")] = None,
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
    batch_size: Opt[int | None, typer.Option(help="batch size (default 64)")] = None,
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
    lr_warmup: Opt[
        bool | None,
        typer.Option("--lr-warmup/--no-lr-warmup", help="lr/100, then lr/10 for the first epochs"),
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
    log_every: Opt[int | None, typer.Option(help="steps between metrics rows (default 50)")] = None,
    ckpt_every: Opt[int | None, typer.Option(help="also keep a numbered checkpoint every N steps")] = None,
    eval_every: Opt[
        int | None, typer.Option(help="evaluate (FID, ...) every N epochs into metrics.jsonl")
    ] = None,
    eval_samples: Opt[int | None, typer.Option(help="samples per evaluation (default 10000)")] = None,
    out: Opt[Path | None, typer.Option(help="run folder (default runs/<loss>-<timestamp>)")] = None,
    config: Opt[Path | None, typer.Option(help="TOML file of settings; flags override it")] = None,
    resume: Opt[Path | None, typer.Option(help="continue this run folder from its last checkpoint")] = None,
) -> None:
    """Train a GAN assembled from plugin names, e.g. [bold]gan run --loss vanilla --critic conv[/]."""
    from gancore import config as cfg
    from gancore import runs
    from gancore.plugins import get_registry

    given = dict(locals())
    given.update(regs=reg or None, monitors=monitor or None, schedules=schedule or None)
    given["augment"] = [a for a in augment.split(",") if a] if augment is not None else None
    flags = {k: v for k, v in given.items() if k in cfg.FIELDS and v is not None}
    registry = get_registry()
    options = cfg.parse_option_args(ctx.args, registry)
    reporter = RichReporter(err)
    try:
        if resume is not None:
            if config is not None or out is not None or options:
                raise GancoreError(
                    "--resume continues a run as configured; drop --config, --out and component flags"
                )
            trainer = runs.resume(resume, flags, reporter, registry)
        else:
            explicit = cfg.read_toml(config) if config is not None else {}
            explicit_options = dict(explicit.pop("options", {}))
            explicit_options.update(options)
            explicit.update(flags)
            settings = cfg.resolve(registry, explicit, explicit_options)
            from gancore.rundir import default_run_path

            folder = out or default_run_path(settings.loss)
            trainer = runs.start(settings, folder, reporter, registry)
    finally:
        if reporter.task is not None:
            reporter.stop()
    err.print(f"[green]done[/]: {trainer.run.path} (step {trainer.last_saved})", highlight=False)


@app.command()
@reports_errors
def sample(
    run_dir: Opt[Path, typer.Argument(help="a run folder")],
    n: Opt[int, typer.Option("-n", "--n", help="number of samples")] = 64,
    out: Opt[Path, typer.Option(help="file.npz, or a folder/ for PNG files")] = Path("samples.npz"),
    sampler: Opt[str | None, typer.Option(help="override the run's sampler")] = None,
    checkpoint: Opt[Path | None, typer.Option(help="checkpoint file (default the run's last)")] = None,
    grid: Opt[Path | None, typer.Option(help="also write a grid PNG of the first 64 samples")] = None,
    seed: Opt[int, typer.Option(help="random seed")] = 0,
    device: Opt[str, typer.Option(help="auto, cpu, cuda, cuda:N")] = "auto",
    batch_size: Opt[int, typer.Option(help="samples generated per batch")] = 1000,
) -> None:
    """Draw samples from a trained run into an .npz file or a folder of PNGs."""
    from gancore.sampling import draw, write_samples

    if n <= 0:
        raise GancoreError(f"-n must be positive, got {n}")
    samples = draw(run_dir, n, sampler, checkpoint, seed, device, batch_size)
    written = write_samples(samples, out, grid)
    measured = ", ".join(
        f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in samples.stats.items()
    )
    err.print(
        f"[green]wrote[/] {written} ({samples.sampler}{': ' + measured if measured else ''})", highlight=False
    )


@app.command()
@reports_errors
def plot(
    run_dir: Opt[Path, typer.Argument(help="a run folder")],
    keys: Opt[
        list[str] | None, typer.Argument(help="metrics to plot (default: losses and diagnostics)")
    ] = None,
    out: Opt[Path | None, typer.Option(help="PNG file (default RUN/metrics.png)")] = None,
) -> None:
    """Plot metrics.jsonl over training: losses, Lipschitz bounds, FID, any logged key."""
    from gancore.plot import plot_metrics

    written = plot_metrics(run_dir, keys or None, out or run_dir / "metrics.png")
    err.print(f"[green]wrote[/] {written}", highlight=False)


@app.command()
@reports_errors
def report(
    runs: Opt[list[Path], typer.Argument(help="run folders, or folders of runs (e.g. a sweep's --out)")],
    out: Opt[Path, typer.Option(help="folder for report.md and the PNG plots")] = Path("report"),
) -> None:
    """Compare runs: one table (FID, precision, recall, ..., wall time, steps/s) and plots."""
    from gancore.report import rich_table, write_report

    rows, written = write_report(runs, out)
    wide_out().print(rich_table(rows))
    err.print(f"[green]wrote[/] {', '.join(str(p) for p in written)}", highlight=False, soft_wrap=True)


@app.command()
@reports_errors
def sweep(
    configs: Opt[list[Path], typer.Argument(help="experiment config files (e.g. experiments/*.toml)")],
    seeds: Opt[int, typer.Option(help="seeds per config: K, K+1, ... K+N-1 (K is --first-seed)")] = 1,
    first_seed: Opt[int, typer.Option(help="the first seed (fresh seeds to confirm a result)")] = 0,
    out: Opt[Path, typer.Option(help="folder of the sweep's runs, logs and report")] = Path("runs/sweep"),
    devices: Opt[
        str, typer.Option(help="comma-separated devices, one job on each at a time (cuda:0,cuda:1)")
    ] = "auto",
    epochs: Opt[int | None, typer.Option(help="override every config's epochs")] = None,
    steps: Opt[int | None, typer.Option(help="override every config's length in generator steps")] = None,
    data_dir: Opt[str | None, typer.Option(help="dataset root for every job")] = None,
    eval_every: Opt[int | None, typer.Option(help="also evaluate every N epochs (FID over training)")] = None,
    eval_samples: Opt[int, typer.Option(help="samples in each final evaluation")] = 10_000,
    n_real: Opt[int, typer.Option(help="real test images in each final evaluation")] = 10_000,
) -> None:
    """Train and evaluate every config with every seed, then report mean and spread over seeds."""
    from gancore import sweep as sw
    from gancore.config import make_config
    from gancore.report import rich_table, write_report

    if seeds < 1:
        raise GancoreError(f"--seeds must be at least 1, got {seeds}")
    if first_seed < 0:
        raise GancoreError(f"--first-seed must be >= 0, got {first_seed}")
    device_list = tuple(d.strip() for d in devices.split(",") if d.strip())
    if not device_list:
        raise GancoreError("--devices is empty; give e.g. --devices cpu or --devices cuda:0,cuda:1")
    for device in device_list:
        make_config(device=device)  # an unknown device name is one line, before any job starts
    for name, value in (("epochs", epochs), ("steps", steps), ("eval-every", eval_every)):
        if value is not None and value < 0:
            raise GancoreError(f"--{name} must be >= 0, got {value}")
    settings = sw.Settings(out=out, devices=device_list, epochs=epochs, steps=steps, data_dir=data_dir,
                           eval_every=eval_every, eval_samples=eval_samples, n_real=n_real)  # fmt: skip
    jobs = sw.plan(configs, list(range(first_seed, first_seed + seeds)), out)
    err.print(f"{len(jobs)} jobs ({len(configs)} configs x {seeds} seeds) on {', '.join(device_list)}")
    status = sw.Runner(settings, lambda line: err.print(line, highlight=False)).run(jobs)
    folders = [job.folder for job in jobs if (job.folder / "config.toml").is_file()]
    failed = [job for job in jobs if status[job].get("state") == "failed"]
    if folders:
        rows, written = write_report(folders, out / "report")
        wide_out().print(rich_table(rows))
        err.print(f"[green]wrote[/] {written[0]}", highlight=False)
    if failed:
        names = ", ".join(job.label for job in failed)
        raise GancoreError(f"{len(failed)} of {len(jobs)} jobs failed ({names}); see {out / 'logs'}")


def wide_out() -> Console:
    """stdout, at least 180 columns wide: a report table is wide, and folded cells are unreadable."""
    return Console(width=max(out.width, 180))


@plugins_app.callback(invoke_without_command=True)
@reports_errors
def plugins(ctx: typer.Context) -> None:
    """Every installed plugin with its version and the names it provides."""
    if ctx.invoked_subcommand is not None:
        return
    from gancore.plugins import get_registry, plugin_infos

    registry = get_registry()
    rows = [("plugin", "version", "distribution", "provides")]
    for info in plugin_infos():
        provided = [e for e in registry.entries() if e.plugin == info.name]
        names = ", ".join(f"{e.kind.replace('_', '-')}:{e.name}" for e in provided) or "-"
        rows.append((info.name, info.version, info.distribution or "-", names))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for i, row in enumerate(rows):
        line = "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[3]
        out.print(f"[bold]{line}[/]" if i == 0 else line, highlight=False, soft_wrap=True, markup=i == 0)


@plugins_app.command("show")
@reports_errors
def plugins_show(name: Opt[str, typer.Argument(help="a component name, e.g. vanilla")]) -> None:
    """What a component is, its options (flags) and the settings it recommends."""
    from rich.markup import escape

    from gancore.errors import PluginError
    from gancore.plugins import get_registry, unknown_name_message

    registry = get_registry()
    entries = registry.find(name)
    if not entries:
        known = sorted({e.name for e in registry.entries()})
        raise PluginError(unknown_name_message("component", name, known))
    for entry in entries:
        cls = entry.cls
        out.print(f"[bold]{entry.kind.replace('_', '-')} {entry.name}[/] (plugin {entry.plugin})")
        out.print(f"  {escape(cls.summary())}")
        for spec in cls.option_specs():
            out.print(
                f"  {spec.flag} ({spec.type.__name__}, default {spec.default!r}): {escape(spec.help)}",
                highlight=False,
            )
        if cls.recommends:
            out.print(f"  recommends: {escape(str(cls.recommends))}", highlight=False)


from gancore.metrics.cli import register as _register_metrics  # noqa: E402  (needs reports_errors above)

_register_metrics(app)


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
