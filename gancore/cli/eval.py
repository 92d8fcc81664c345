"""`gan eval` and `gan evaluator train|list`, registered on the main app by ``register``.

torch is imported inside the commands only, so that `gan --help` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

Opt = Annotated

METRIC_ROWS = (  # key, label, format, which way is better
    ("fid", "FID", "{:.3f}", "lower"),
    ("precision", "precision (k=3)", "{:.4f}", "higher, max 1"),
    ("recall", "recall (k=3)", "{:.4f}", "higher, max 1"),
    ("density", "density (k=5)", "{:.4f}", "about 1"),
    ("coverage", "coverage (k=5)", "{:.4f}", "higher, max 1"),
    ("classes_covered", "classes covered", "{}", "all"),
    ("class_kl", "class KL from uniform", "{:.4f}", "lower, min 0"),
)


def _refuse_existing(out: Path | None, allowed: Path | None = None) -> None:
    from gancore.errors import ConfigError

    if out is None or not out.exists():
        return
    if allowed is not None and out.resolve() == allowed.resolve():
        return  # refreshing a run's own eval.json
    raise ConfigError(f"{out} already exists; choose another --out (nothing was overwritten)")


def _table(result: dict[str, Any], floor: dict[str, Any] | None):
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for column in ("metric", "value", "better") + (("real vs real",) if floor else ()):
        table.add_column(column, justify="right" if column in ("value", "real vs real") else "left")
    for key, label, fmt, better in METRIC_ROWS:
        value = result.get(key)
        if value is None:
            continue
        if key == "classes_covered":
            shown = f"{value} of {result['num_classes']}"
        else:
            shown = fmt.format(value)
        row = [label, shown, better]
        if floor:
            row.append(fmt.format(floor[key]) if key in floor else "")
        table.add_row(*row)
    return table


def eval_command(
    target: Opt[
        Path | None, typer.Argument(help="a run folder, or an .npz holding one array of images")
    ] = None,
    out: Opt[
        Path | None, typer.Option(help="where to write the JSON \\[default: RUN/eval.json; none for .npz]")
    ] = None,
    n: Opt[
        int | None, typer.Option("-n", "--n", help="samples \\[default: 10000 from a run, all of an .npz]")
    ] = None,
    real: Opt[
        bool, typer.Option("--real", help="the floor: 10,000 training images instead of samples")
    ] = False,
    sampler: Opt[str | None, typer.Option(help="draw with this sampler \\[default: the run's]")] = None,
    checkpoint: Opt[Path | None, typer.Option(help="checkpoint file \\[default: the run's last]")] = None,
    seed: Opt[int, typer.Option(help="random seed for drawing samples")] = 0,
    split: Opt[str, typer.Option(help="real images compared against: test or train")] = "test",
    n_real: Opt[int, typer.Option(help="how many real images of that split")] = 10_000,
    dataset: Opt[str | None, typer.Option(help="dataset \\[default: the run's, else mnist]")] = None,
    features: Opt[
        str | None,
        typer.Option(help="feature network: the dataset's (default), inception, or a .safetensors file"),
    ] = None,
    inception_weights: Opt[
        Path | None, typer.Option(help="FID Inception weights for --features inception")
    ] = None,
    data_dir: Opt[
        str | None, typer.Option(help="dataset root \\[default: the run's, $GANCORE_DATA, ~/.cache/gancore]")
    ] = None,
    device: Opt[str, typer.Option(help="auto, cpu, cuda, cuda:N")] = "auto",
    as_json: Opt[bool, typer.Option("--json", help="print the JSON instead of a table")] = False,
) -> None:
    """FID, precision/recall, density/coverage and class coverage of a run or an .npz of images."""
    from gancore.cli.shared import err
    from gancore.cli.shared import out as stdout
    from gancore.errors import ConfigError
    from gancore.io.atomic import write_atomic

    if n is not None and n <= 0:
        raise ConfigError(f"-n must be positive, got {n}")
    if real == (target is not None):
        raise ConfigError("give a run folder or an .npz file to evaluate, or --real for the floor (not both)")
    source: dict[str, Any] = {}
    own: Path | None = None
    if real:
        _refuse_existing(out)
        dataset = dataset or "mnist"
        if split == "train":
            raise ConfigError("--real compares training images with the test split; drop --split train")
        samples, sampler_name = _real_samples(dataset, n or 10_000, data_dir), None
        source = {"samples": f"{len(samples)} {dataset} training images (seed-0 subset)"}
    elif target.is_dir():
        from gancore.eval.features import spec_for
        from gancore.io.rundir import RunDir
        from gancore.train.runs import read_config

        run = RunDir(target).require()
        own = target / "eval.json"
        out = out or own
        _refuse_existing(out, allowed=own)
        config = read_config(run)
        dataset = dataset or config.dataset
        data_dir = data_dir or config.data_dir or None
        spec_for(dataset)  # fail before drawing 10,000 samples for a dataset with no evaluator
        samples, sampler_name, drawn = _draw(target, n or 10_000, sampler, checkpoint, seed, device)
        source = {"run": str(target), "checkpoint": str(checkpoint or run.last), "seed": seed, **drawn}
    elif target.suffix == ".npz" or target.is_file():
        from gancore.eval.evaluate import load_samples

        _refuse_existing(out)
        dataset = dataset or "mnist"
        samples = load_samples(target, dataset)
        if n is not None:
            if n > len(samples):
                raise ConfigError(f"-n {n}: {target} holds only {len(samples)} images")
            samples = samples[:n]
        sampler_name = None
        source = {"samples": str(target)}
    else:
        raise ConfigError(f"{target}: no such run folder or .npz file")

    from gancore.eval.evaluate import evaluate, floor_for

    result = evaluate(
        samples,
        dataset=dataset,
        split=split,
        n_real=n_real,
        data_dir=data_dir,
        device=device,
        features=features,
        inception_weights=str(inception_weights) if inception_weights else None,
        sampler=sampler_name,
    )
    result.update(source)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(out, json.dumps(result, indent=2) + "\n")
    if as_json:
        stdout.print_json(json.dumps(result))
    else:
        stdout.print(_table(result, None if real else floor_for(result)))
        if result["n_samples"] != 10_000 or result["n_real"] != 10_000:
            err.print(
                f"[yellow]note[/]: {result['n_samples']} samples vs {result['n_real']} real images;"
                " the protocol (and the floor) use 10,000 vs 10,000, and FID grows as N shrinks",
                highlight=False,
            )
        err.print(
            f"{result['feature_net']} ({result['feature_sha256'][:12]}), {result['device']},"
            f" {result['seconds']:.1f} s" + (f"; [green]wrote[/] {out}" if out is not None else ""),
            highlight=False,
        )


def _draw(run: Path, n: int, sampler: str | None, ckpt: Path | None, seed: int, device: str):
    import time

    from gancore.errors import ConfigError
    from gancore.tools.sampling import draw

    start = time.perf_counter()
    samples = draw(run, n, sampler, ckpt, seed, device)
    if samples.spec.kind != "image":
        raise ConfigError(f"{run} makes {samples.spec.kind}, not images; gan eval measures image runs")
    drawn = {"sampling_seconds": round(time.perf_counter() - start, 3), "sampler_stats": samples.stats}
    return samples.values, samples.sampler, drawn


def _real_samples(dataset: str, n: int, data_dir: str | None):
    from gancore.eval.evaluate import real_images
    from gancore.io.data import resolve_data_dir

    return real_images(dataset, "train", n, resolve_data_dir(data_dir))


def train_command(
    dataset: Opt[str, typer.Option(help="dataset whose feature network to build")] = "mnist",
    out: Opt[Path | None, typer.Option(help="weights file \\[default: ./<network>.safetensors]")] = None,
    data_dir: Opt[
        str | None, typer.Option(help="dataset root \\[default: $GANCORE_DATA or ~/.cache/gancore]")
    ] = None,
    epochs: Opt[
        int | None, typer.Option(help="passes over the training set \\[default: the recipe's 4]")
    ] = None,
    seed: Opt[int | None, typer.Option(help="random seed \\[default: the recipe's 0]")] = None,
    device: Opt[str, typer.Option(help="cpu reproduces the shipped bytes; cuda is faster")] = "cpu",
) -> None:
    """Rebuild a dataset's feature network by the documented recipe (MNIST: 99.46% test accuracy)."""
    from gancore.cli.shared import err
    from gancore.cli.shared import out as stdout
    from gancore.config import resolve_device
    from gancore.errors import ConfigError
    from gancore.eval.features import spec_for
    from gancore.eval.train import RECIPE, build
    from gancore.io.data import resolve_data_dir

    spec = spec_for(dataset)
    target = out or Path(spec.filename)
    _refuse_existing(target)
    if epochs is not None and epochs <= 0:
        raise ConfigError(f"--epochs must be positive, got {epochs}")
    sha, acc = build(
        spec,
        resolve_data_dir(data_dir),
        target,
        resolve_device(device),
        RECIPE["epochs"] if epochs is None else epochs,
        RECIPE["seed"] if seed is None else seed,
        log=lambda line: err.print(line, highlight=False),
    )
    stdout.print(f"wrote {target}\ntest accuracy {acc:.4%}\nsha256 {sha}", highlight=False)
    if spec.sha256 == sha:
        err.print(f"[green]identical to the shipped {spec.name}[/]", highlight=False)
    elif spec.sha256:
        err.print(
            f"differs from the shipped {spec.name} ({spec.sha256[:12]}): expected with another torch"
            " version, device or thread count; use it with --features FILE",
            highlight=False,
        )
    if acc < 0.993:
        err.print("[yellow]warning[/]: below the 99.3% the shipped networks must reach", highlight=False)


def list_command() -> None:
    """Feature networks by dataset, and whether weights are shipped."""
    from rich.table import Table

    from gancore.cli.shared import out as stdout
    from gancore.eval.features import FEATURE_NETS

    table = Table(box=None, header_style="bold")
    for column in ("dataset", "network", "shipped sha256"):
        table.add_column(column)
    for dataset, spec in sorted(FEATURE_NETS.items()):
        shipped = spec.sha256 if spec.sha256 and spec.shipped.is_file() else "not shipped"
        table.add_row(dataset, spec.name, shipped)
    stdout.print(table)
