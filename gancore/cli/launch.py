"""`gan run --nproc N`: torchrun's own launcher (torch.distributed.launcher), on this machine.

It starts N copies of ``python -m gancore run ...`` (without ``--nproc``) exactly as
``torchrun --standalone --nproc-per-node N -m gancore run ...`` would, and turns the launcher's
failure report into one line. For several machines, use torchrun itself (docs/usage.md).
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import uuid

import typer

from gancore.errors import GancoreError, Interrupted


class ProcessFailed(GancoreError):
    """A process of a `gan run --nproc` run failed; the launcher stopped the others (exit 1)."""

    exit_code = 1


def without_nproc(argv: list[str]) -> list[str]:
    """The command line with ``--nproc N`` / ``--nproc=N`` taken out (what each process runs)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


def launch_config(nproc: int):
    """torchrun --standalone's configuration for ``nproc`` processes of this machine."""
    from torch.distributed.launcher.api import LaunchConfig

    options = dict(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=nproc,
        run_id=str(uuid.uuid4()),
        rdzv_backend="c10d",
        rdzv_endpoint="localhost:0",  # a free port: as torchrun --standalone
        max_restarts=0,  # a failed run is resumed by the user, from its last checkpoint
    )
    # the processes run in sessions of their own: the launcher passes Ctrl-C on to them, and they stop
    # together at a check step and save; it waits this long before killing them (torch releases
    # without this option, which pyproject's torch>=2.4 allows, keep their own wait, which this
    # cannot lengthen: a slow save may be cut there)
    if "shutdown_timeout" in {field.name for field in dataclasses.fields(LaunchConfig)}:
        options["shutdown_timeout"] = 120
    return LaunchConfig(**options)


def launch(nproc: int, args: list[str]) -> None:
    """Run ``python -m gancore *args`` on ``nproc`` processes of one machine; returns when all end."""
    from torch.distributed.elastic.multiprocessing import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import elastic_launch

    config = launch_config(nproc)
    for name in list(logging.root.manager.loggerDict):  # the launcher's own report is the one line below
        if name.startswith("torch.distributed.elastic"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        elastic_launch(config, sys.executable)("-u", "-m", "gancore", *args)
    except SignalException as exc:
        raise Interrupted(
            f"stopped by {exc.sigval.name}: the processes saved a checkpoint where they could;"
            f" continue with gan run --nproc {nproc} --resume RUN_FOLDER"
        ) from None
    except ChildFailedError as exc:
        # the root cause: a process killed by a signal, before those that stopped because it died
        # (whichever the launcher happened to see first)
        rank, failure = min(exc.failures.items(), key=lambda kv: (kv[1].exitcode >= 0, kv[1].timestamp))
        if failure.exitcode < 0:
            how = f"was killed by {failure.signal_name()}"
        else:
            how = f"exited with code {failure.exitcode}; its own line above says why"
        if failure.exitcode == 2 and exc.failures.get(0, failure).exitcode == 2:
            raise typer.Exit(2) from None  # bad input: rank 0's own line says what and how to fix it
        if failure.exitcode == 2:  # only later ranks refused, and they stay silent (cli.shared)
            raise GancoreError(
                f"process {rank} of {nproc} refused its input and process 0 did not; run the same"
                " command without --nproc to see why"
            ) from None
        if failure.exitcode == Interrupted.exit_code:
            raise Interrupted("interrupted: every process saved the checkpoint and stopped") from None
        error = ProcessFailed(
            f"process {rank} of {nproc} {how}; the launcher"
            f" stopped the others; checkpoints already written are kept: continue with"
            f" gan run --nproc {nproc} --resume RUN_FOLDER"
        )
        error.exit_code = failure.exitcode if failure.exitcode > 0 else 1  # bad input stays exit 2
        raise error from None
