"""`gan sample`: draw from a trained run with its (or another) sampler, write .npz or PNG files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch
from torch import Tensor

from gancore.components import Sampler
from gancore.errors import ConfigError
from gancore.io import sampler_state
from gancore.io.atomic import atomic_path, temporary_name
from gancore.io.images import save_png, save_samples_picture, to_uint8
from gancore.io.lock import remove_orphans_of
from gancore.io.outputs import check_file, check_folder
from gancore.plugins import get_registry
from gancore.records import Data, DataSpec, GANModel

#: the seed of ``prepare``'s own RNG stream: what a sampler learns is then a function of its key
#: (name, options, checkpoint, generator) alone, whatever ``--seed`` draws the samples
PREPARE_SEED = 0


@attrs.frozen
class Samples:
    values: Tensor  # float, the data's range ([-1, 1] for images), on the CPU
    spec: DataSpec
    sampler: str
    stats: dict = attrs.field(factory=dict)  # what the sampler measured (e.g. DRS's acceptance rate)
    generator: str = "live"  # which generator was sampled: "live", or the callback whose average it is
    #: what became of ``prepare``'s work: "" (nothing to keep), "saved", "reused" or "not saved: why"
    prepared: str = ""
    #: the class every sample was drawn for (``label=``), or None: the model's marginal over classes
    label: int | None = None
    #: samples drawn for each class in turn by a conditional generator (``class_total``), else empty
    by_class: tuple[Tensor, ...] = ()


def draw(
    run_dir: Path,
    n: int,
    sampler: str | None = None,
    ckpt: Path | None = None,
    seed: int = 0,
    device: str = "auto",
    batch_size: int = 1000,
    live: bool = False,
    options: dict[str, Any] | None = None,
    label: int | None = None,
    class_total: int = 0,
) -> Samples:
    """``n`` samples from the run's last (or the given) checkpoint.

    They come from the generator the run samples (an average a callback kept, when it kept one), or
    from the live generator with ``live=True``. ``options`` (by option name) override the sampler's
    options recorded in the run. What the sampler's ``prepare`` learns is saved in the run folder and
    reused by later calls with the same sampler, options, checkpoint and generator; ``prepare`` runs
    on its own RNG stream, so the samples for one ``seed`` are the same whether it ran or not.

    A conditional run's samples are drawn for class ``label`` alone when one is given (refused in one
    line for an unconditional run or a class out of range); with ``class_total > 0`` a conditional
    generator also gives ``class_total // K`` samples (at least one) of each of its K classes
    (``Samples.by_class``, drawn after the ``n``, which stay the same). The sampler prepares on the
    model's marginal in every case.
    """
    from gancore.io.rundir import RunDir
    from gancore.train.runs import open_run, read_config

    registry = get_registry()
    run = RunDir(run_dir).require()
    name = sampler if sampler is not None else read_config(run).sampler
    entry = registry.get("sampler", name)
    check_options(entry.cls, name, options or {})
    pipe, data, _ = open_run(
        run_dir, device, name, ckpt, registry, with_data=entry.cls.needs_data, live=live,
        sampler_options=options,
    )  # fmt: skip
    model = pipe.model.for_sampling()
    drawn = model if label is None else model.for_class(label)  # refused before any preparation
    generator = pipe.sampled_by or "live"
    prepared = prepare(pipe.sampler, name, model, data, run.sampler_state(name), ckpt or run.last, generator)
    torch.manual_seed(seed)
    values = pipe.sampler.sample(drawn, n, batch_size).detach().cpu()
    stats = pipe.sampler.stats()
    by_class: tuple[Tensor, ...] = ()
    if class_total > 0 and model.generator_conditional:
        classes = range(model.spec.num_classes or 0)
        per_class = max(1, class_total // len(classes))
        by_class = tuple(
            pipe.sampler.sample(model.for_class(k), per_class, batch_size).detach().cpu() for k in classes
        )
    return Samples(values, model.spec, name, stats, generator, prepared, label, by_class)


def check_options(cls: type[Sampler], name: str, options: dict[str, Any]) -> None:
    """Sampler flags the drawing sampler does not declare are refused, naming it."""
    own = {spec.name for spec in cls.option_specs()}
    for key in options:
        if key not in own:
            flag = "--" + key.replace("_", "-")
            raise ConfigError(f"{flag} is no option of sampler {name!r}, which draws these samples")


def prepare(
    sampler: Sampler,
    name: str,
    model: GANModel,
    data: Data | None,
    state_file: Path,
    ckpt: Path,
    generator: str,
) -> str:
    """``sampler.prepare``, or what a former call saved for the same key; returns what became of it."""
    options = {spec.name: getattr(sampler, spec.name) for spec in type(sampler).option_specs()}
    key = None
    if state_file.is_file():
        key = sampler_state.make_key(name, options, ckpt, generator)
        saved = sampler_state.load(state_file, key)
        if saved is not None:
            sampler.load_state_dict(saved, model)
            return "reused"
    devices = [model.device] if model.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(PREPARE_SEED)
        sampler.prepare(model, data)
    state = sampler.state_dict()
    if not state:
        return ""
    key = key or sampler_state.make_key(name, options, ckpt, generator)
    try:
        sampler_state.save(state_file, state, key)
    except OSError as exc:  # a read-only run folder: sampling still works, later calls prepare again
        return f"not saved: {exc.strerror or exc}"
    return "saved"


def check_outputs(out: Path, grid: Path | None = None, force: bool = False) -> bool:
    """Every output of ``write_samples`` checked before any is written; True: ``out`` is a folder."""
    as_folder = str(out).endswith(("/", "\\")) or out.is_dir() or out.suffix == ""
    if not as_folder and out.suffix != ".npz":
        raise ConfigError(f"--out {out}: give a .npz file or a folder (ending in /)")
    if not force and out.exists() and not (as_folder and out.is_dir() and not any(out.iterdir())):
        raise ConfigError(f"{out} already exists; choose another --out")
    if as_folder:
        check_folder(out, "--out ")
    else:
        check_file(out, "--out ")
    if grid is not None:
        check_file(grid, "--grid ")
    return as_folder


def write_samples(samples: Samples, out: Path, grid: Path | None = None, force: bool = False) -> Path:
    """``out.npz`` (uint8 images, or float points), or PNG files plus grid.png in a folder.

    A folder is written under a hidden temporary name beside it and renamed when complete, so a
    folder named ``out`` always holds every sample (a kill midway leaves only the hidden one).
    """
    as_folder = check_outputs(out, grid, force)
    spec, values = samples.spec, samples.values
    if as_folder:
        _write_folder(values, spec, out)
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


def _write_folder(values: Tensor, spec: DataSpec, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_orphans_of(out)  # an earlier, killed write's partial folder
    partial = temporary_name(out)
    partial.mkdir()
    try:
        if spec.kind == "image":
            for i, image in enumerate(to_uint8(values)):
                # thousands of files: each written without waiting for the disk; the folder's
                # rename below is what makes them appear together
                save_png(image, partial / f"{i:06d}.png", fsync=False)
        save_samples_picture(values[:64] if spec.kind == "image" else values, spec, partial / "grid.png")
        if out.is_dir():
            out.rmdir()  # empty (checked): a rename replaces only an empty folder
        os.replace(partial, out)
    finally:
        shutil.rmtree(partial, ignore_errors=True)  # gone already after the rename
