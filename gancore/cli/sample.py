"""`gan sample`: draw from a trained run into an .npz file or a folder of PNGs."""

from __future__ import annotations

from pathlib import Path

import typer

from gancore.cli.component_options import GIVEN
from gancore.cli.shared import Opt, err
from gancore.errors import GancoreError


def sample(
    ctx: typer.Context,
    run_dir: Opt[Path, typer.Argument(help="a run folder")],
    n: Opt[int, typer.Option("-n", "--n", help="number of samples")] = 64,
    out: Opt[Path, typer.Option(help="file.npz, or a folder/ for PNG files")] = Path("samples.npz"),
    sampler: Opt[str | None, typer.Option(help="override the run's sampler")] = None,
    checkpoint: Opt[Path | None, typer.Option(help="checkpoint file (default the run's last)")] = None,
    grid: Opt[Path | None, typer.Option(help="also write a grid PNG of the first 64 samples")] = None,
    seed: Opt[int, typer.Option(help="random seed")] = 0,
    device: Opt[str, typer.Option(help="auto, cpu, cuda, cuda:N")] = "auto",
    batch_size: Opt[int, typer.Option(help="samples generated per batch")] = 1000,
    live: Opt[
        bool, typer.Option("--live", help="sample the live generator, not a callback's average (EMA)")
    ] = False,
    label: Opt[
        int | None, typer.Option("--class", help="a conditional run: samples of this class alone (0, 1, ...)")
    ] = None,
) -> None:
    """Draw samples from a trained run into an .npz file or a folder of PNGs.

    The sampler's options (e.g. --drs-gamma p80) override the run's; what its preparation learns is
    kept in RUN/samplers/ and reused while the sampler, its options and the checkpoint stay the same.
    A conditional run (its generator takes class labels) draws one class with --class K.
    """
    from gancore.config import SEED_LIMIT
    from gancore.tools.sampling import check_outputs, draw, write_samples
    from gancore.train import threads

    if n <= 0:
        raise GancoreError(f"-n must be positive, got {n}")
    if batch_size <= 0:
        raise GancoreError(f"--batch-size must be a positive whole number, got {batch_size}")
    if not 0 <= seed < SEED_LIMIT:
        raise GancoreError(f"--seed must be a whole number in [0, {SEED_LIMIT - 1}], got {seed}")
    check_outputs(out, grid)  # every output, before minutes of drawing and before any is written
    threads.apply(threads.choose(0))  # $GANCORE_THREADS, as training reads it
    options = ctx.meta.get(GIVEN, {})
    samples = draw(run_dir, n, sampler, checkpoint, seed, device, batch_size, live, options, label)
    written = write_samples(samples, out, grid)
    measured = ", ".join(
        f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in samples.stats.items()
    )
    source = "" if samples.generator == "live" else f", generator of callback {samples.generator}"
    prepared = f", prepared state {samples.prepared}" if samples.prepared else ""
    source += "" if samples.label is None else f", class {samples.label}"
    measured = f": {measured}" if measured else ""
    err.print(f"[green]wrote[/] {written} ({samples.sampler}{measured}{source}{prepared})", highlight=False)
