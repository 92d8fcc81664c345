"""Checkpoints as safetensors (never pickles), written atomically (``gancore.io.atomic``).

One file holds both networks, both optimizers' state, the RNG states and the step, so ``--resume``
continues bit for bit. Non-tensor values (optimizer hyperparameters, counters) live in the file's
string metadata as JSON. A run with callbacks adds their state (``callback.<name>.<key>``) and, when
it samples another generator than the live one, that generator's weights (``sampled_generator.*``,
with the metadata key ``sampled_generator`` naming the callback that provided it), so that sampling
a run needs no callback code.

Safetensors keeps no checksum, so bytes damaged on disk would load silently: ``save`` puts a BLAKE2b
digest of every tensor (name, dtype, shape, bytes) and of the metadata into the metadata itself, and
``read`` refuses a file whose digest differs, or that lacks what a resume needs. A checkpoint written
before checksums existed has none and still loads (unverified).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor, nn

from gancore.errors import CheckpointError
from gancore.io.atomic import atomic_path

FORMAT = "gancore-checkpoint-1"
#: key prefix of the sampled generator's weights, and the metadata key naming who provided them
SAMPLED = "sampled_generator"
CHECKSUM = "checksum"
#: the metadata key of the run's identity (``train.validate.identity``), compared on resume
IDENTITY = "identity"
#: what every checkpoint holds: ``read`` refuses one without them in one line, not a KeyError later
REQUIRED_META = (
    "step",
    "spec",
    "opt_g.param_groups",
    "opt_g.plain_state",
    "opt_d.param_groups",
    "opt_d.plain_state",
)
REQUIRED_TENSORS = ("rng.cpu",)
#: what a refused checkpoint's message advises (a resume that falls back says what it does instead)
ADVICE = "; use an earlier one from the same folder, or start a new run"


def checksum(tensors: dict[str, Tensor], meta: dict[str, str]) -> str:
    """``blake2b:<hex>`` of the tensors' names, dtypes, shapes and bytes, and of the metadata."""
    digest = hashlib.blake2b(digest_size=32)
    for key in sorted(meta):
        if key != CHECKSUM:
            digest.update(json.dumps([key, meta[key]]).encode())
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(json.dumps([name, str(tensor.dtype), list(tensor.shape)]).encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().data)  # no copy of the bytes
    return f"blake2b:{digest.hexdigest()}"


def _flatten_optimizer(prefix: str, opt: torch.optim.Optimizer, tensors: dict, meta: dict) -> None:
    state = opt.state_dict()
    plain: dict[str, dict[str, Any]] = {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if isinstance(value, Tensor):
                tensors[f"{prefix}.state.{index}.{key}"] = value.detach().contiguous()
            else:
                plain.setdefault(str(index), {})[key] = value
    meta[f"{prefix}.param_groups"] = json.dumps(state["param_groups"])
    meta[f"{prefix}.plain_state"] = json.dumps(plain)


def _unflatten_optimizer(prefix: str, tensors: dict[str, Tensor], meta: dict[str, str]) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for key, value in json.loads(meta[f"{prefix}.plain_state"]).items():
        state.setdefault(int(key), {}).update(value)
    start = f"{prefix}.state."
    for name, tensor in tensors.items():
        if name.startswith(start):
            index, key = name[len(start) :].split(".", 1)
            state.setdefault(int(index), {})[key] = tensor
    return {"state": state, "param_groups": json.loads(meta[f"{prefix}.param_groups"])}


def save(
    path: Path,
    generator: nn.Module,
    critic: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    step: int,
    extra_meta: dict[str, str] | None = None,
    extra_tensors: dict[str, Tensor] | None = None,
) -> Path:
    """Write everything needed to resume at ``step``; ``path`` is replaced only once complete.

    ``extra_tensors`` (callbacks' state, the sampled generator) are stored under their keys as
    copies: a callback's tensor may share memory with a network's, which safetensors refuses.
    """
    tensors: dict[str, Tensor] = {}
    meta: dict[str, str] = {"format": FORMAT, "step": str(step), **(extra_meta or {})}
    for name, net in (("generator", generator), ("critic", critic)):
        for key, value in net.state_dict().items():
            tensors[f"{name}.{key}"] = value.detach().contiguous()
    for key, value in (extra_tensors or {}).items():
        tensors[key] = value.detach().to("cpu", copy=True).contiguous()
    _flatten_optimizer("opt_g", opt_g, tensors, meta)
    _flatten_optimizer("opt_d", opt_d, tensors, meta)
    tensors["rng.cpu"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, rng in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = rng
    tensors = {k: v.cpu() for k, v in tensors.items()}
    meta[CHECKSUM] = checksum(tensors, meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return path


def metadata(path: Path) -> dict[str, str]:
    """The metadata alone (the header: no tensor is read), of a checkpoint ``read`` has verified."""
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            return fh.metadata() or {}
    except Exception as exc:
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({type(exc).__name__}: {exc}){ADVICE}"
        ) from None


def read(path: Path) -> tuple[dict[str, Tensor], dict[str, str]]:
    """All tensors (on the CPU) and the metadata; a bad file is one CheckpointError line."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            meta = fh.metadata() or {}
            tensors = {key: fh.get_tensor(key) for key in fh.keys()}  # noqa: SIM118 - not a dict
    except Exception as exc:
        raise CheckpointError(
            f"checkpoint {path} is corrupt or truncated ({type(exc).__name__}: {exc}){ADVICE}"
        ) from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a gancore checkpoint (no format {FORMAT!r} in it)")
    if CHECKSUM in meta and checksum(tensors, meta) != meta[CHECKSUM]:  # none: an older checkpoint
        raise CheckpointError(
            f"checkpoint {path} is corrupt (its checksum does not match its contents){ADVICE}"
        )
    missing = [k for k in REQUIRED_META if k not in meta] + [k for k in REQUIRED_TENSORS if k not in tensors]
    if missing or not meta["step"].isdigit():
        what = f"lacks {missing[0]!r}" if missing else f"has a bad step {meta['step']!r}"
        raise CheckpointError(f"checkpoint {path} {what}: it is incomplete{ADVICE}")
    return tensors, meta


def _load_module(name: str, net: nn.Module, tensors: dict[str, Tensor], path: Path) -> None:
    prefix = f"{name}."
    state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(
            f"checkpoint {path} does not fit this run's {name} ({first}); was the run's config edited?"
        ) from None


def load_networks(
    path: Path, generator: nn.Module, critic: nn.Module | None = None, sampled: nn.Module | None = None
) -> dict[str, str]:
    """Load network weights (for sampling; ``sampled``: the sampled generator's); returns the metadata."""
    tensors, meta = read(path)
    _load_module("generator", generator, tensors, path)
    if critic is not None:
        _load_module("critic", critic, tensors, path)
    if sampled is not None:
        _load_module(SAMPLED, sampled, tensors, path)
    return meta


def _load_states(
    states: dict[str, Callable[[dict[str, Tensor]], None]], tensors: dict[str, Tensor], path: Path
) -> None:
    """Hand each ``prefix -> load`` the checkpoint's tensors under ``prefix.``, the prefix removed."""
    for prefix, load in states.items():
        start = prefix + "."
        state = {k[len(start) :]: v for k, v in tensors.items() if k.startswith(start)}
        try:
            load(state)
        except (KeyError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"checkpoint {path} has unusable state for {prefix} ({exc})") from None


def load_all(
    path: Path,
    generator: nn.Module,
    critic: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    sampled: nn.Module | None = None,
    states: dict[str, Callable[[dict[str, Tensor]], None]] | None = None,
) -> dict[str, str]:
    """Restore networks, optimizers and RNG states; returns the metadata (``step`` ...).

    ``sampled`` receives the sampled generator's weights; ``states`` maps a key prefix to a function
    that restores the tensors saved under it (a callback's ``load_state_dict``).
    """
    tensors, meta = read(path)
    _load_module("generator", generator, tensors, path)
    _load_module("critic", critic, tensors, path)
    if sampled is not None:
        _load_module(SAMPLED, sampled, tensors, path)
    _load_states(states or {}, tensors, path)
    try:
        opt_g.load_state_dict(_unflatten_optimizer("opt_g", tensors, meta))
        opt_d.load_state_dict(_unflatten_optimizer("opt_d", tensors, meta))
    except (KeyError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"checkpoint {path} has unusable optimizer state ({exc})") from None
    torch.set_rng_state(tensors["rng.cpu"])
    cuda_states = [tensors[k] for k in sorted(tensors) if k.startswith("rng.cuda.")]
    if cuda_states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda_states[: torch.cuda.device_count()])
    return meta
