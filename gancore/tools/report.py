"""`gan report`: many runs side by side, as one table (terminal and markdown) and a few PNG plots.

Runs are grouped into experiments: a run folder named ``seed-N`` (as `gan sweep` makes them) belongs to
the experiment named by its parent folder, any other run is an experiment of its own. Each table cell
is the mean over the experiment's evaluated runs, with the sample standard deviation when there are
several. The metric columns are those of the runs' datasets' evaluations (FID, precision, ... for
images; modes, high quality, mode KL for the 2-D toys), in the order they declare them.

A run's evaluation is its eval.json (`gan eval`), else the evaluation it logged at its last epoch
(`--eval-every`). ``--epoch N`` reports every run as it was at epoch N instead: the evaluation logged
then, the training time up to then and that epoch's sample grid, so one set of 100-epoch runs gives
the table at 30 epochs too.
"""

from __future__ import annotations

import io
import json
import math
import re
import statistics
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs

from gancore.errors import ConfigError, GancoreError
from gancore.evaluation import Metric
from gancore.io.atomic import atomic_path, write_atomic
from gancore.io.outputs import check_folder
from gancore.io.rundir import RunDir

SEED_FOLDER = re.compile(r"seed-\d+")
LEADING = ("experiment", "runs", "epochs")
TRAILING = ("wall time", "steps/s")


@attrs.frozen
class RunSummary:
    """What the report needs from one run folder."""

    path: Path
    experiment: str
    config: dict[str, Any]
    rows: list[dict[str, Any]]  # metrics.jsonl
    evaluation: dict[str, Any] | None  # eval.json
    metrics: tuple[Metric, ...] = ()  # what its dataset's evaluation reports (none if unknown here)
    headline: str | None = None  # the metric worth plotting over training

    @property
    def epochs(self) -> float | None:
        return self.train_rows[-1]["epoch"] if self.train_rows else None

    @property
    def train_rows(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if "it_s" in r]

    def wall_seconds_until(self, epoch: float | None) -> float | None:
        """Training time by the run's own clock up to ``epoch`` (all of it for None), summed over
        resumed segments (each restarts at 0)."""
        rows = [r for r in self.train_rows if epoch is None or r["epoch"] <= epoch]
        total, last = 0.0, 0.0
        for row in rows:
            if row["time"] < last:
                total += last
            last = row["time"]
        return total + last if rows else None

    def until(self, epoch: float) -> RunSummary:
        """The run as it was at ``epoch``: its rows up to then (curves and times stop there)."""
        return attrs.evolve(self, rows=[r for r in self.rows if r["epoch"] <= epoch])

    def logged_evaluations(self) -> dict[float, dict[str, Any]]:
        """The evaluations logged during training (``--eval-every``) by epoch, keys without ``eval/``;
        a resumed run's later row for an epoch wins."""
        return {
            row["epoch"]: {k.removeprefix("eval/"): v for k, v in row.items() if k.startswith("eval/")}
            for row in self.rows
            if any(k.startswith("eval/") for k in row)
        }

    def last_logged_epoch(self) -> float | None:
        """The latest epoch with a logged evaluation (a run stopped mid-epoch trained a little past it)."""
        return max(self.logged_evaluations(), default=None)

    def evaluation_at(self, epoch: float | None) -> dict[str, Any] | None:
        """The evaluation at ``epoch``: the one logged then; for None the run's eval.json, else the
        latest one it logged."""
        if epoch is None:
            return self.evaluation or self.logged_evaluations().get(self.last_logged_epoch())
        return self.logged_evaluations().get(epoch)

    def epochs_reported(self, epoch: float | None) -> float | None:
        """How far the run had trained when the reported evaluation was made: ``epoch`` where it got
        there, else its last epoch; without eval.json, the epoch of the evaluation it logged."""
        if epoch is not None:
            return epoch if epoch in self.logged_evaluations() else self.epochs and min(self.epochs, epoch)
        if self.evaluation is None and (logged := self.last_logged_epoch()) is not None:
            return logged
        return self.epochs

    @property
    def steps_per_second(self) -> float | None:
        speeds = [r["it_s"] for r in self.train_rows]
        return statistics.median(speeds) if speeds else None

    def image(self, epoch: float | None = None) -> Path | None:
        """The sample grid of ``epoch``, or the newest for None."""
        grids = sorted(RunDir(self.path).samples.glob("epoch-*.png"))
        if epoch is not None:
            grids = [g for g in grids if g.name == f"epoch-{round(epoch):04d}.png"]
        return grids[-1] if grids else None


def find_runs(paths: Iterable[Path]) -> list[Path]:
    """Run folders among ``paths``: each is a run, or a folder searched for runs at any depth."""
    found: list[Path] = []
    for path in paths:
        if (path / "config.toml").is_file():
            found.append(path)
        elif path.is_dir():
            inside = sorted(p.parent for p in path.rglob("config.toml"))
            if not inside:
                raise ConfigError(f"{path} holds no runs (no config.toml in it or below it)")
            found.extend(inside)
        else:
            raise ConfigError(f"{path} is neither a run folder nor a folder of runs")
    return list(dict.fromkeys(found))


def dataset_metrics(config: dict[str, Any]) -> tuple[tuple[Metric, ...], str | None]:
    """The metrics and headline of the run's dataset's evaluation; none when this installation cannot
    evaluate it (its plugin is missing, or it has no evaluation): a report still lists the run."""
    from gancore.config import RunConfig
    from gancore.eval.evaluate import evaluation_for

    name = config.get("dataset", RunConfig().dataset)
    try:
        evaluation = evaluation_for(name, options=config.get("options", {}))
    except GancoreError:
        return (), None
    return evaluation.metrics, evaluation.headline


def summarize(path: Path) -> RunSummary:
    run = RunDir(path).require()
    experiment = path.parent.name if SEED_FOLDER.fullmatch(path.name) else path.name
    config = tomllib.loads(run.config.read_text())
    evaluation_path = path / "eval.json"
    evaluation = json.loads(evaluation_path.read_text()) if evaluation_path.is_file() else None
    metrics, headline = dataset_metrics(config)
    return RunSummary(path, experiment, config, run.read_metrics(), evaluation, metrics, headline)


def group(runs: list[RunSummary]) -> dict[str, list[RunSummary]]:
    groups: dict[str, list[RunSummary]] = {}
    for run in runs:
        groups.setdefault(run.experiment, []).append(run)
    return groups


def mean_spread(values: list[float]) -> tuple[float, float | None]:
    """The mean, and the sample standard deviation when there are two values or more."""
    mean = statistics.fmean(values)
    return mean, statistics.stdev(values) if len(values) > 1 else None


def _cell(values: list[float], fmt: str) -> str:
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return "-"
    mean, spread = mean_spread(values)
    return fmt.format(mean) + ("" if spread is None else " ± " + fmt.format(spread))


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def metric_columns(groups: dict[str, list[RunSummary]]) -> list[Metric]:
    """Every metric any run's evaluation reports, once per key, in the order first declared."""
    seen: dict[str, Metric] = {}
    for runs in groups.values():
        for run in runs:
            for metric in run.metrics:
                seen.setdefault(metric.key, metric)
    return list(seen.values())


def columns(rows: list[dict[str, str]]) -> list[str]:
    """The table's columns: those of its rows (every row has them all, in order)."""
    return list(rows[0]) if rows else [*LEADING, *TRAILING]


def check_epoch(groups: dict[str, list[RunSummary]], epoch: float) -> None:
    """``--epoch``: some run logged an evaluation then; else one line naming the epochs that have one."""
    logged = {e for runs in groups.values() for run in runs for e in run.logged_evaluations()}
    if epoch not in logged:
        have = ", ".join(f"{e:g}" for e in sorted(logged)) or "none (train with --eval-every N)"
        raise ConfigError(f"--epoch {epoch:g}: no run logged an evaluation then; epochs with one: {have}")


def table(groups: dict[str, list[RunSummary]], epoch: float | None = None) -> list[dict[str, str]]:
    """One row per experiment, as text: experiment, runs, epochs, the metrics, wall time, steps/s;
    at ``epoch`` when given (see the module's docstring)."""
    metrics = metric_columns(groups)
    rows = []
    for name, runs in groups.items():
        evaluated = [e for r in runs if (e := r.evaluation_at(epoch)) is not None]
        n = len(runs)
        count = f"{n}" if len(evaluated) == n else f"{len(evaluated)} of {n} evaluated"
        row = {"experiment": name, "runs": count}
        reached = [r.epochs_reported(epoch) for r in runs]
        same = len(set(reached)) == 1 and reached[0] is not None  # no "± 0" when every run got there
        row["epochs"] = f"{reached[0]:.3g}" if same else _cell(reached, "{:.3g}")
        for metric in metrics:
            row[metric.title] = _cell([e[metric.key] for e in evaluated if metric.key in e], metric.mean_fmt)
        walls = [w for r in runs if (w := r.wall_seconds_until(epoch)) is not None]
        row["wall time"] = _duration(statistics.fmean(walls)) if walls else "-"
        row["steps/s"] = _cell([r.steps_per_second for r in runs], "{:.1f}")
        rows.append(row)
    return rows


def markdown(rows: list[dict[str, str]]) -> str:
    names = columns(rows)
    lines = ["| " + " | ".join(names) + " |", "|" + "|".join(" --- " for _ in names) + "|"]
    lines += ["| " + " | ".join(row[c] for c in names) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def rich_table(rows: list[dict[str, str]]):
    from rich.table import Table

    out = Table(header_style="bold", box=None)
    names = columns(rows)
    for column in names:
        out.add_column(column, justify="left" if column == "experiment" else "right")
    for row in rows:
        out.add_row(*(row[c] for c in names))
    return out


def _mean_curve(runs: list[RunSummary], key: str, x: str) -> tuple[list[float], list[float]]:
    """``key`` against ``x``, averaged over the runs that logged it at that ``x``."""
    by_x: dict[float, list[float]] = {}
    for run in runs:
        for row in run.rows:
            value = row.get(key)
            if value is not None and math.isfinite(value):
                by_x.setdefault(row[x], []).append(value)
    xs = sorted(by_x)
    return xs, [statistics.fmean(by_x[v]) for v in xs]


def monitor_keys(runs: list[RunSummary]) -> list[str]:
    """Keys logged by the runs' Lipschitz monitors (named ``<monitor>/<quantity>``)."""
    keys: dict[str, None] = {}
    for run in runs:
        prefixes = tuple(f"{m}/" for m in run.config.get("monitors", []))
        for row in run.rows:
            keys.update(dict.fromkeys(k for k in row if prefixes and k.startswith(prefixes)))
    return list(keys)


def _curves(groups: dict[str, list[RunSummary]], keys: list[str], x: str, out: Path, y_scale: str) -> Path:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(keys), figsize=(6 * len(keys), 4), squeeze=False)
    for ax, key in zip(axes.flat, keys, strict=True):
        # twenty distinct colours, then the same colours dashed: no two experiments look alike
        ax.set_prop_cycle(plt.cycler(linestyle=["-", "--"]) * plt.cycler(color=plt.cm.tab20.colors))
        for name, runs in groups.items():
            xs, ys = _mean_curve(runs, key, x)
            if xs:
                ax.plot(xs, ys, label=name, marker="." if len(xs) < 20 else None)
        ax.set_title(key)
        ax.set_xlabel(x)
        if y_scale == "symlog":  # losses can be negative, and one diverging run can dwarf the rest
            ax.set_yscale("symlog", linthresh=1.0)
        else:
            ax.set_yscale(y_scale)
        ax.grid(alpha=0.3)
    axes.flat[-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return out


def _samples(groups: dict[str, list[RunSummary]], out: Path, epoch: float | None) -> Path | None:
    import matplotlib.pyplot as plt

    pictures = [(name, image) for name, runs in groups.items() if (image := runs[0].image(epoch)) is not None]
    if not pictures:
        return None
    cols = min(4, len(pictures))
    lines = math.ceil(len(pictures) / cols)
    fig, axes = plt.subplots(lines, cols, figsize=(3.2 * cols, 3.5 * lines), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (name, image) in zip(axes.flat, pictures, strict=False):
        ax.imshow(plt.imread(image), cmap="gray")
        ax.set_title(name, fontsize=9)
    fig.tight_layout()
    rgba = io.BytesIO()
    fig.savefig(rgba, dpi=100, format="png")
    plt.close(fig)
    from PIL import Image

    with atomic_path(out) as tmp:  # grey digits: a third of the RGBA file
        Image.open(rgba).convert("L").save(tmp, format="PNG", optimize=True)
    return out


def headlines(runs: list[RunSummary]) -> list[Metric]:
    """The headline metric of each run's evaluation that the run logged during training (--eval-every)."""
    found: dict[str, Metric] = {}
    for run in runs:
        metric = next((m for m in run.metrics if m.key == run.headline), None)
        if metric is not None and any(f"eval/{metric.key}" in row for row in run.rows):
            found.setdefault(metric.key, metric)
    return list(found.values())


def plots(groups: dict[str, list[RunSummary]], out: Path, epoch: float | None = None) -> list[Path]:
    """losses.png; <headline>.png (fid.png for images) when runs evaluated during training;
    lipschitz.png; samples.png (the first seed's grid of ``epoch``, else its newest)."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    runs = [r for rs in groups.values() for r in rs]
    written = [_curves(groups, ["d_loss", "g_loss"], "step", out / "losses.png", "symlog")]
    for metric in headlines(runs):
        scale = "log" if metric.log_scale else "linear"
        written.append(_curves(groups, [f"eval/{metric.key}"], "epoch", out / f"{metric.key}.png", scale))
    if keys := monitor_keys(runs):
        written.append(_curves(groups, keys, "step", out / "lipschitz.png", "log"))
    if (picture := _samples(groups, out / "samples.png", epoch)) is not None:
        written.append(picture)
    return written


def write_report(
    paths: list[Path], out: Path, replace: bool = False, epoch: float | None = None
) -> tuple[list[dict[str, str]], list[Path]]:
    """Summarize the runs under ``paths`` into ``out``/report.md and its PNG plots, as they were at
    ``epoch`` when given; an existing report there is replaced only with ``replace`` (a sweep
    refreshing its own report)."""
    check_folder(out, "--out ")  # a file, a device, a link in the way
    if (out / "report.md").exists() and not replace:
        raise ConfigError(
            f"{out / 'report.md'} already exists; choose another --out, or pass --force to replace it"
        )
    groups = group([summarize(p) for p in find_runs(paths)])
    if epoch is not None:
        check_epoch(groups, epoch)
        groups = {name: [run.until(epoch) for run in runs] for name, runs in groups.items()}
    rows = table(groups, epoch)
    out.mkdir(parents=True, exist_ok=True)
    pictures = plots(groups, out, epoch)
    images = "\n".join(f"![{p.stem}]({p.name})" for p in pictures)
    sources = "\n".join(f"- {name}: {', '.join(str(r.path) for r in runs)}" for name, runs in groups.items())
    title = "Report" if epoch is None else f"Report at epoch {epoch:g}"
    text = (
        f"# {title}\n\n{markdown(rows)}\nMean ± sample standard deviation over runs.\n\n{images}\n\n"
        f"## Runs\n\n{sources}\n"
    )
    write_atomic(out / "report.md", text)
    return rows, [out / "report.md", *pictures]
