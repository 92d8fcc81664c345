"""`gan plot`: metrics.jsonl over training."""

from __future__ import annotations

from pathlib import Path

import typer

from gancore.cli.shared import Opt, err


def plot(
    run_dir: Opt[Path, typer.Argument(help="a run folder")],
    keys: Opt[
        list[str] | None, typer.Argument(help="metrics to plot (default: losses and diagnostics)")
    ] = None,
    out: Opt[Path | None, typer.Option(help="PNG file (default RUN/metrics.png)")] = None,
) -> None:
    """Plot metrics.jsonl over training: losses, Lipschitz bounds, FID, any logged key."""
    from gancore.tools.plot import plot_metrics

    written = plot_metrics(run_dir, keys or None, out or run_dir / "metrics.png")
    err.print(f"[green]wrote[/] {written}", highlight=False)
