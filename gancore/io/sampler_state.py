"""A sampler's prepared state in the run folder: safetensors (never pickles), with the key it is valid for.

``prepare`` can be slow (DRS trains the critic further and calibrates it); what it learned is kept in
``samplers/<name>.safetensors`` and reused as long as its key, written in the file's metadata, is the
one asked for: the sampler's name and options, the checkpoint's content and the generator sampled.
Any change of these, a resumed run's new checkpoint included, recomputes it, so a stale state is
never used. One file per sampler name: the latest key replaces the one before.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor

FORMAT = "gancore-sampler-state-1"


def file_digest(path: Path) -> str:
    """The sha256 of a file (a checkpoint): names its content, whatever its path or time stamp."""
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def make_key(sampler: str, options: dict[str, Any], checkpoint: Path, generator: str) -> str:
    """What a prepared state depends on, as one canonical JSON string."""
    return json.dumps(
        {
            "sampler": sampler,
            "options": options,
            "checkpoint": file_digest(checkpoint),
            "generator": generator,
        },
        sort_keys=True,
    )


def load(path: Path, key: str) -> dict[str, Tensor] | None:
    """The tensors saved at ``path`` (on the CPU) when they were saved for ``key``, else None.

    A missing, unreadable or foreign file is as good as none: the state is computed again.
    """
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            meta = fh.metadata() or {}
            if meta.get("format") != FORMAT or meta.get("key") != key:
                return None
            return {name: fh.get_tensor(name) for name in fh.keys()}  # noqa: SIM118 - not a dict
    except Exception:  # a truncated or corrupt file: computed again and replaced
        return None


def save(path: Path, state: dict[str, Tensor], key: str) -> Path:
    """Write ``state`` for ``key`` atomically (a temporary file, then a rename)."""
    tensors = {name: value.detach().to("cpu", copy=True).contiguous() for name, value in state.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        save_file(tensors, str(tmp), metadata={"format": FORMAT, "key": key})
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
