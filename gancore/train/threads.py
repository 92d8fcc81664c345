"""How many CPU threads a training run uses: ``--threads N``, else ``GANCORE_THREADS``, else
``OMP_NUM_THREADS``, else one.

Measured on a 2-core machine shared with other jobs (docs/usage.md has the figures): torch's default
of one thread per core made a toy run 15 times slower under load, because OpenMP's workers spin
waiting for cores that other processes hold; one thread lost little or nothing on the small
networks of this project. So a run uses one thread unless told otherwise, and records the number in
its config.toml.
"""

from __future__ import annotations

import os

import torch

from gancore.errors import ConfigError

ENV = "GANCORE_THREADS"


def choose(requested: int) -> int:
    """``requested`` when > 0, else ``$GANCORE_THREADS``, else torch's own count where
    ``OMP_NUM_THREADS`` sets it (as `gan sweep` does for jobs sharing the cores), else 1."""
    if requested > 0:
        return requested
    text = os.environ.get(ENV, "").strip()
    if not text:
        return torch.get_num_threads() if os.environ.get("OMP_NUM_THREADS") else 1
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"{ENV}={text!r} must be a whole number >= 1 (or unset for one thread)")
    return int(text)


def apply(threads: int) -> None:
    """Use ``threads`` intra-op threads in this process (a no-op when already so)."""
    if threads > 0 and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
