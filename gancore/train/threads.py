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

from gancore.errors import ConfigError

ENV = "GANCORE_THREADS"


def choose(requested: int) -> int:
    """``requested`` when > 0, else ``$GANCORE_THREADS``, else torch's current count."""
    if requested > 0:
        return requested
    text = os.environ.get(ENV, "").strip()
    if not text:
        return torch.get_num_threads()
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"{ENV}={text!r} must be a whole number >= 1 (or unset: one thread per core)")
    return int(text)


def apply(threads: int) -> None:
    """Use ``threads`` intra-op threads in this process (a no-op when already so)."""
    if threads > 0 and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
