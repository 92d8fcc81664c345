"""`gan sample`: draw from a trained run with its (or another) sampler, write .npz or PNG files."""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np
import torch
from torch import Tensor

from gancore.errors import ConfigError
from gancore.io.atomic import atomic_path
from gancore.io.images import save_png, save_samples_picture, to_uint8
from gancore.plugins import get_registry
from gancore.records import DataSpec


@attrs.frozen
class Samples:
    values: Tensor  # float, the data's range ([-1, 1] for images), on the CPU
    spec: DataSpec
    sampler: str
    stats: dict = attrs.field(factory=dict)  # what the sampler measured (e.g. DRS's acceptance rate)
    generator: str = "live"  # which generator was sampled: "live", or the callback whose average it is


def draw(
    run_dir: Path,
    n: int,
    sampler: str | None = None,
    ckpt: Path | None = None,
    seed: int = 0,
    device: str = "auto",
    batch_size: int = 1000,
    live: bool = False,
) -> Samples:
    """``n`` samples from the run's last (or the given) checkpoint.

    They come from the generator the run samples (an average a callback kept, when it kept one), or
    from the live generator with ``live=True``.
    """
    from gancore.train.runs import open_run

    registry = get_registry()
    name = sampler
    if name is None:
        from gancore.io.rundir import RunDir
        from gancore.train.runs import read_config

        name = read_config(RunDir(run_dir)).sampler
    needs_data = registry.get("sampler", name).cls.needs_data
    pipe, data, _ = open_run(run_dir, device, name, ckpt, registry, with_data=needs_data, live=live)
    model = pipe.model.for_sampling()
    torch.manual_seed(seed)
    pipe.sampler.prepare(model, data)
    values = pipe.sampler.sample(model, n, batch_size)
    return Samples(values.detach().cpu(), model.spec, name, pipe.sampler.stats(), pipe.sampled_by or "live")


def write_samples(samples: Samples, out: Path, grid: Path | None = None, force: bool = False) -> Path:
    """``out.npz`` (uint8 images, or float points), or PNG files plus grid.png in a folder."""
    as_folder = str(out).endswith(("/", "\\")) or out.is_dir() or out.suffix == ""
    if not as_folder and out.suffix != ".npz":
        raise ConfigError(f"--out {out}: give a .npz file or a folder (ending in /)")
    if not force and out.exists() and not (as_folder and out.is_dir() and not any(out.iterdir())):
        raise ConfigError(f"{out} already exists; choose another --out")
    spec, values = samples.spec, samples.values
    if as_folder:
        out.mkdir(parents=True, exist_ok=True)
        if spec.kind == "image":
            pixels = to_uint8(values)
            for i, image in enumerate(pixels):
                # thousands of files: each replaced atomically, without waiting for the disk each time
                save_png(image, out / f"{i:06d}.png", fsync=False)
        save_samples_picture(values[:64] if spec.kind == "image" else values, spec, out / "grid.png")
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        if spec.kind == "image":
            arrays = {"images": to_uint8(values).numpy()}
        else:
            arrays = {"points": values.float().numpy()}
        with atomic_path(out) as tmp:
            np.savez_compressed(tmp, **arrays)
    if grid is not None:
        save_samples_picture(values[:64] if spec.kind == "image" else values, spec, grid)
    return out
