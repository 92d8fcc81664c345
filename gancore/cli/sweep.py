"""`gan sweep`: every config with every seed, trained and evaluated, then reported."""

from __future__ import annotations

from pathlib import Path

import typer

from gancore.cli.shared import ClusterConfigOpt, Opt, cluster_opt, err, wide_out
from gancore.errors import GancoreError


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
    callback: Opt[
        list[str] | None,
        typer.Option(help="add a callback to every job, after its config's (e.g. tensorboard; repeatable)"),
    ] = None,
    cluster: cluster_opt("each job as a cluster job instead") = None,
    cluster_config: ClusterConfigOpt = None,
    retry_failed: Opt[
        bool,
        typer.Option(help="run the jobs an earlier sweep recorded as failed again (fix the cause first)"),
    ] = False,
) -> None:
    """Train and evaluate every config with every seed, then report mean and spread over seeds."""
    from gancore.config import SEED_LIMIT, make_config, resolve_device
    from gancore.tools import sweep as sw
    from gancore.tools.report import rich_table, write_report

    if seeds < 1:
        raise GancoreError(f"--seeds must be at least 1, got {seeds}")
    if first_seed < 0:
        raise GancoreError(f"--first-seed must be >= 0, got {first_seed}")
    if first_seed + seeds > SEED_LIMIT:
        raise GancoreError(
            f"--first-seed {first_seed} + --seeds {seeds} passes the last seed, {SEED_LIMIT - 1}"
        )
    for name, count in (("eval-samples", eval_samples), ("n-real", n_real)):
        if count <= 0:
            raise GancoreError(f"--{name} must be positive, got {count}")
    device_list = tuple(d.strip() for d in devices.split(",") if d.strip())
    if not device_list:
        raise GancoreError("--devices is empty; give e.g. --devices cpu or --devices cuda:0,cuda:1")
    engine = None
    if cluster is not None:
        from gancore.tools.cluster import check_available, read_cluster_config

        engine = read_cluster_config(cluster, cluster_config)
        if len(device_list) > 1:
            raise GancoreError(
                "--devices spreads jobs over one machine's devices; with --cluster each job gets its own"
                " (gpus_per_job in --cluster-config): give one device, e.g. auto"
            )
        check_available(engine)
    elif cluster_config is not None:
        raise GancoreError("--cluster-config needs --cluster (slurm, or local/debug to try it here)")
    for device in device_list:
        make_config(device=device)  # an unknown device name is one line, before any job starts
        if engine is None:  # and one this machine lacks (a cluster's nodes have their own)
            try:
                resolve_device(device)
            except GancoreError as exc:
                raise GancoreError(f"--devices: {exc}") from None
    for name, value in (("epochs", epochs), ("steps", steps), ("eval-every", eval_every)):
        if value is not None and value < 0:
            raise GancoreError(f"--{name} must be >= 0, got {value}")
    if callback:
        from gancore.plugins import get_registry

        for name in callback:
            get_registry().get("callback", name)  # an unknown name is one line, before any job starts
    settings = sw.Settings(out=out, devices=device_list, epochs=epochs, steps=steps, data_dir=data_dir,
                           eval_every=eval_every, eval_samples=eval_samples, n_real=n_real,
                           callbacks=tuple(callback or ()), retry_failed=retry_failed)  # fmt: skip
    jobs = sw.plan(configs, list(range(first_seed, first_seed + seeds)), out)
    sw.check_jobs(jobs, settings, local=engine is None)
    where = engine.describe() if engine else ", ".join(device_list)
    err.print(f"{len(jobs)} jobs ({len(configs)} configs x {seeds} seeds) on {where}")
    status = sw.Runner(settings, lambda line: err.print(line, highlight=False), engine).run(jobs)
    folders = [job.folder for job in jobs if (job.folder / "config.toml").is_file()]
    failed = [job for job in jobs if status[job].get("state") == "failed"]
    if folders:
        rows, written = write_report(folders, out / "report", replace=True)  # its own report
        wide_out().print(rich_table(rows))
        err.print(f"[green]wrote[/] {written[0]}", highlight=False)
    if failed:
        names = ", ".join(job.label for job in failed)
        raise GancoreError(
            f"{len(failed)} of {len(jobs)} jobs failed ({names}); see {out / 'logs'}, and once the cause is"
            " fixed run the same command with --retry-failed"
        )
