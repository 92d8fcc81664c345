"""`gan report`: compare runs in one table and plots."""

from __future__ import annotations

from pathlib import Path

import typer

from gancore.cli.shared import Opt, err, wide_out


def report(
    runs: Opt[list[Path], typer.Argument(help="run folders, or folders of runs (e.g. a sweep's --out)")],
    out: Opt[Path, typer.Option(help="folder for report.md and the PNG plots")] = Path("report"),
    force: Opt[bool, typer.Option("--force", help="replace the report already in --out")] = False,
    epoch: Opt[
        float | None,
        typer.Option(help="the runs as they were at this epoch: its --eval-every evaluation, time and grid"),
    ] = None,
) -> None:
    """Compare runs: one table (FID, precision, recall, ..., wall time, steps/s) and plots."""
    from gancore.tools.report import rich_table, write_report

    rows, written = write_report(runs, out, replace=force, epoch=epoch)
    wide_out().print(rich_table(rows))
    err.print(f"[green]wrote[/] {', '.join(str(p) for p in written)}", highlight=False, soft_wrap=True)
