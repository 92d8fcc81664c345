"""`gan eval` and `gan evaluator train|list`, registered on the main app by ``register``.

torch is imported inside the commands only, so that `gan --help` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

Opt = Annotated


def _refuse_existing(out: Path | None, allowed: Path | None = None) -> None:
    from gancore.errors import ConfigError
    from gancore.io.outputs import check_file

    if out is None:
        return
    check_file(out, "--out ")  # a device, a FIFO, a link, a path under a file: before any work
    if not out.exists():
        return
    if allowed is not None and out.resolve() == allowed.resolve():
        return  # refreshing a run's own eval.json
    raise ConfigError(f"{out} already exists; choose another --out (nothing was overwritten)")


def _table(result: dict[str, Any], metrics: tuple, floor: dict[str, Any] | None):
    """The evaluation's metrics as rows: label, value, which way is better, and the floor's value."""
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for column in ("metric", "value", "better") + (("real vs real",) if floor else ()):
        table.add_column(column, justify="right" if column in ("value", "real vs real") else "left")
    for metric in metrics:
        value = result.get(metric.key)
        if value is None:
            continue
        row = [metric.label, metric.show(value, result), metric.better]
        if floor:
            shown = floor.get(metric.key)
            row.append(metric.fmt.format(shown) if shown is not None else "")
        table.add_row(*row)
    return table


def eval_command(
    ctx: typer.Context,
    target: Opt[
        Path | None, typer.Argument(help="a run folder, or an .npz holding one array of samples")
    ] = None,
    out: Opt[
        Path | None, typer.Option(help="where to write the JSON \\[default: RUN/eval.json; none for .npz]")
    ] = None,
    n: Opt[
        int | None, typer.Option("-n", "--n", help="samples \\[default: 10000 from a run, all of an .npz]")
    ] = None,
    real: Opt[
        bool, typer.Option("--real", help="the floor: the dataset's real data instead of samples")
    ] = False,
    sampler: Opt[str | None, typer.Option(help="draw with this sampler \\[default: the run's]")] = None,
    checkpoint: Opt[Path | None, typer.Option(help="checkpoint file \\[default: the run's last]")] = None,
    seed: Opt[int, typer.Option(help="random seed for drawing samples")] = 0,
    split: Opt[str, typer.Option(help="images: real images compared against, test or train")] = "test",
    n_real: Opt[int, typer.Option(help="images: how many real images of that split")] = 10_000,
    dataset: Opt[str | None, typer.Option(help="dataset \\[default: the run's, else mnist]")] = None,
    features: Opt[
        str | None,
        typer.Option(help="images: feature network, the dataset's (default), inception, or a .safetensors"),
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
    """Score a run or an .npz by its dataset's evaluation (images: FID, precision/recall, density/coverage,
    classes covered; the 2-D toys: modes covered, high-quality share)."""
    import time

    from gancore.cli.component_options import GIVEN
    from gancore.cli.shared import err
    from gancore.cli.shared import out as stdout
    from gancore.config import SEED_LIMIT
    from gancore.errors import ConfigError
    from gancore.eval.evaluate import (
        CLASS_ACCURACY,
        class_accuracy,
        default_dataset,
        evaluation_for,
        finish,
        read_npz,
        settings,
    )
    from gancore.io.atomic import write_atomic

    if n is not None and n <= 0:
        raise ConfigError(f"-n must be positive, got {n}")
    if n_real <= 0:
        raise ConfigError(f"--n-real must be positive, got {n_real}")
    if not 0 <= seed < SEED_LIMIT:
        raise ConfigError(f"--seed must be a whole number in [0, {SEED_LIMIT - 1}], got {seed}")
    if real == (target is not None):
        raise ConfigError("give a run folder or an .npz file to evaluate, or --real for the floor (not both)")
    sampler_options = ctx.meta.get(GIVEN, {})
    if sampler_options and (real or not target.is_dir()):
        flag = "--" + next(iter(sampler_options)).replace("_", "-")
        raise ConfigError(f"{flag} sets a sampler's option: it needs a run folder to draw samples from")
    source: dict[str, Any] = {}
    options: dict[str, Any] = {}
    sampler_name, samples, run_dir, array = None, None, None, None
    if real:
        _refuse_existing(out)
        dataset = dataset or default_dataset()
    elif target.is_dir():
        from gancore.io.rundir import RunDir
        from gancore.train.runs import read_config

        run = RunDir(target).require()
        own = target / "eval.json"
        out = out or own
        _refuse_existing(out, allowed=own)
        config = read_config(run)
        options = dict(config.options) if dataset in (None, config.dataset) else {}
        dataset = dataset or config.dataset
        data_dir = data_dir or config.data_dir or None
        run_dir = run.path
        source = {"run": str(target), "checkpoint": str(checkpoint or run.last), "seed": seed}
    elif target.suffix == ".npz" or target.is_file():
        _refuse_existing(out)
        dataset = dataset or default_dataset()
        array = read_npz(target)
        if n is not None:
            if n > len(array):
                raise ConfigError(f"-n {n}: {target} holds only {len(array)} samples")
            array = array[:n]
        source = {"samples": str(target)}
    else:
        raise ConfigError(f"{target}: no such run folder or .npz file")

    evaluation = evaluation_for(dataset, options=options)
    if not real and run_dir is None:
        samples = evaluation.read(array)  # refuse unreadable samples before any real data is loaded
    start = time.perf_counter()
    setup = settings(device, data_dir, split, n_real, features, inception_weights)
    evaluation.prepare(setup)  # fails here, before 10,000 samples are drawn for nothing
    prepared = time.perf_counter() - start
    if real:
        samples, what = evaluation.real_samples(n or 10_000)
        source = {"samples": what}
    by_class: tuple = ()
    if run_dir is not None:
        samples, sampler_name, drawn, by_class = _draw(
            run_dir, n or 10_000, sampler, checkpoint, seed, device, sampler_options
        )
        source.update(drawn)
    start = time.perf_counter()
    result = evaluation.score(samples)
    result.update(class_accuracy(evaluation, by_class))  # a conditional run, with a classifier
    result = finish(result, samples, dataset=dataset, sampler=sampler_name, device=setup.device,
                    seconds=prepared + time.perf_counter() - start)  # fmt: skip
    result.update(source)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(out, json.dumps(result, indent=2) + "\n")
    if as_json:
        stdout.print_json(json.dumps(result))
        return
    metrics = evaluation.metrics + ((CLASS_ACCURACY,) if "class_accuracy" in result else ())
    stdout.print(_table(result, metrics, None if real else evaluation.floor(result)))
    if result.get("class_accuracies"):
        shown = " ".join(f"{a:.2f}" for a in result["class_accuracies"])
        stdout.print(f"class accuracy of class 0, 1, ...: {shown}", highlight=False)
    for note in evaluation.notes(result):
        err.print(f"[yellow]note[/]: {note}", highlight=False)
    err.print(
        f"{evaluation.describe(result)}, {result['device']}, {result['seconds']:.1f} s"
        + (f"; [green]wrote[/] {out}" if out is not None else ""),
        highlight=False,
    )


def _draw(
    run: Path, n: int, sampler: str | None, ckpt: Path | None, seed: int, device: str, options: dict[str, Any]
):
    import time

    from gancore.tools.sampling import draw

    start = time.perf_counter()
    # a conditional generator also draws n samples spread over its classes, for class_accuracy
    samples = draw(run, n, sampler, ckpt, seed, device, options=options, class_total=n)
    drawn = {"sampling_seconds": round(time.perf_counter() - start, 3), "sampler_stats": samples.stats}
    if options:
        drawn["sampler_options"] = options
    if samples.prepared:
        drawn["sampler_prepared"] = samples.prepared
    return samples.values, samples.sampler, drawn, samples.by_class


def _feature_net(dataset: str):
    """The feature network a dataset's evaluation uses, or one line saying it uses none."""
    from gancore.errors import ConfigError
    from gancore.eval.evaluate import evaluation_for
    from gancore.eval.images import ImageEvaluation

    evaluation = evaluation_for(dataset)
    if not isinstance(evaluation, ImageEvaluation):
        raise ConfigError(
            f"dataset {dataset!r} has no feature network to train: its evaluation ({evaluation.name})"
            " uses none"
        )
    return evaluation.net


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
    from gancore.eval.train import RECIPE, build
    from gancore.io.data import resolve_data_dir

    spec = _feature_net(dataset)
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
    """Every dataset's evaluation: its feature network and whether the weights are shipped."""
    from rich.table import Table

    from gancore.cli.shared import out as stdout
    from gancore.errors import ConfigError
    from gancore.eval.evaluate import evaluation_for
    from gancore.eval.images import ImageEvaluation
    from gancore.plugins import get_registry

    table = Table(box=None, header_style="bold")
    for column in ("dataset", "evaluation", "network", "shipped sha256"):
        table.add_column(column)
    for dataset in get_registry().names("dataset"):
        try:
            evaluation = evaluation_for(dataset)
        except ConfigError:
            table.add_row(dataset, "none", "-", "-")
            continue
        if isinstance(evaluation, ImageEvaluation):
            net = evaluation.net
            table.add_row(dataset, evaluation.name, net.name, net.sha256 if net.shipped else "not shipped")
        else:
            table.add_row(dataset, evaluation.name, "-", "-")
    stdout.print(table)
