"""How many CPU threads a training run uses: ``--threads N``, else ``GANCORE_THREADS``, else torch's
own count (one per core, or ``OMP_NUM_THREADS``).

Measured on a 2-core machine shared with other jobs (docs/usage.md has the figures): what made runs
15 to 30 times slower under load was OpenMP's workers spinning while they wait for cores other
processes hold, not the number of threads. With the workers sleeping instead (``OMP_WAIT_POLICY=
PASSIVE``, which the `gan` command sets unless the user did) two threads were as fast as one or
faster, on the toy and on MNIST alike, so the thread count stays torch's and is recorded in the
run's config.toml.
"""

from __future__ import annotations

import os

import torch

from gancore.errors import ConfigError, warn

ENV = "GANCORE_THREADS"


def available() -> int:
    """The CPU cores this process may run on (its affinity mask where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def choose(requested: int, *, recorded: bool = False) -> int:
    """``requested`` when > 0, else ``$GANCORE_THREADS``, else torch's current count.

    More threads than the machine has cores is refused (OpenMP crashes on 100,000); a count
    ``recorded`` by a run trained on a larger machine is lowered to the cores here, saying so.
    """
    cores = available()
    if requested > 0:
        if requested <= cores:
            return requested
        if recorded:
            warn(
                f"the run was trained with {requested} threads; this machine has {cores} cores, using {cores}"
            )
            return cores
        raise ConfigError(f"--threads {requested}: this machine has {cores} CPU cores; give at most {cores}")
    text = os.environ.get(ENV, "").strip()
    if not text:
        return min(torch.get_num_threads(), cores)
    if not text.isdigit() or not 1 <= int(text) <= cores:
        raise ConfigError(
            f"{ENV}={text!r} must be a whole number from 1 to {cores} (the cores here), or unset: one"
            " thread per core"
        )
    return int(text)


def apply(threads: int) -> None:
    """Use ``threads`` intra-op threads in this process (a no-op when already so)."""
    if threads > 0 and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
