"""`gan plot`: metrics.jsonl curves (losses, diagnostics, Lipschitz bounds, FID) as one PNG."""

from __future__ import annotations

import math
from pathlib import Path

from gancore.errors import ConfigError
from gancore.io.atomic import atomic_path
from gancore.io.outputs import check_file
from gancore.io.rundir import RunDir

BOOKKEEPING = {"step", "epoch", "time", "it_s"}


def default_keys(rows: list[dict]) -> list[str]:
    """The losses, then every diagnostic a plugin logged (names with a '/': loss/, reg/, monitors, eval/)."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(k for k in row if k not in BOOKKEEPING))
    main = [k for k in ("d_loss", "g_loss") if k in seen]
    return main + sorted(k for k in seen if "/" in k)


def plot_metrics(run_dir: Path, keys: list[str] | None, out: Path) -> Path:
    """One small panel per key, value against step, written to ``out``."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt
    from matplotlib.backend_bases import FigureCanvasBase

    run = RunDir(run_dir).require()
    # a bare name is written as PNG; any other suffix must be a format matplotlib writes
    formats = FigureCanvasBase.get_supported_filetypes()
    check_file(out, "--out ", None if out.suffix == "" else formats)
    rows = run.read_metrics()
    if not rows:
        raise ConfigError(f"{run.metrics} has no rows yet")
    keys = keys or default_keys(rows)
    missing = [k for k in keys if not any(k in r for r in rows)]
    if missing:
        raise ConfigError(
            f"no metric {missing[0]!r} in {run.metrics}; it has: {', '.join(default_keys(rows))}"
        )
    cols = min(3, len(keys))
    lines = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(lines, cols, figsize=(4.5 * cols, 3 * lines), squeeze=False)
    for ax, key in zip(axes.flat, keys, strict=False):
        points = [(r["step"], r[key]) for r in rows if key in r and r[key] is not None]
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="." if len(points) < 30 else None)
        ax.set_title(key, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys) :]:
        ax.axis("off")
    fig.suptitle(run.path.name, fontsize=11)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:  # the format named, else matplotlib would add ".png" to a bare name
        fig.savefig(tmp, dpi=100, format=(out.suffix[1:] or "png").lower())
    plt.close(fig)
    return out
