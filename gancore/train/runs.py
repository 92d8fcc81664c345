"""Starting, resuming and reopening runs: everything between the CLI and the training loop."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import attrs

from gancore.config import (
    RunConfig,
    make_config,
    plugin_differences,
    read_toml,
    recorded_plugins,
    refuse_zero_threads,
)
from gancore.errors import CheckpointError, ConfigError, warn
from gancore.io import checkpoint, lock
from gancore.io.atomic import write_atomic
from gancore.io.rundir import RunDir
from gancore.plugins import Registry, get_registry
from gancore.records import Data, DataSpec
from gancore.train import distributed
from gancore.train.assembly import EvaluatorFactory, Place, assemble, reassemble
from gancore.train.loop import Reporter, SilentReporter, Trainer, ctrl_c_requests_stop
from gancore.train.objective import critic_objective
from gancore.train.pipeline import Pipeline, instantiate
from gancore.train.validate import RESUMABLE, changed, check_identity, check_settings, validate


def start(
    config: RunConfig,
    out: Path,
    reporter: Reporter | None = None,
    registry: Registry | None = None,
    evaluators: EvaluatorFactory | None = None,
) -> Trainer:
    """Validate everything, create ``out`` (never an existing run) and train from step 0."""
    registry = registry or get_registry()
    check_settings(config, registry, distributed.world_size())  # the rest is checked as it is assembled
    run = RunDir(out)
    place = Place.resolve(config)
    world = place.world
    # only rank 0 writes the folder, so only it checks it (the others would see rank 0's new one)
    if world.is_main and run.taken():
        run.create()  # raises the "already exists" error before any work is done
    watch = FirstStep(reporter or SilentReporter())
    try:
        assembly = assemble(config, registry, place, record=True, warm_start=True, evaluators=evaluators)
        trainer = Trainer(assembly, run, watch)
        if not world.is_main:
            with ctrl_c_requests_stop() as stop:
                trainer.train(0, stop)
            return trainer
        made = _first_missing(run.path)
        run.create()
        # the lock outside the clean-up: a start refused here removes nothing of the holder's
        with lock.hold(run.path):
            try:
                write_atomic(run.config, assembly.config.to_toml(assembly.plugins))
                with ctrl_c_requests_stop() as stop:
                    trainer.train(0, stop)
            except BaseException:
                if not watch.stepped:  # nothing worth keeping: no half-made run folder is left behind
                    _remove_created(run.path, made)
                raise
        return trainer
    except BaseException:
        world.close(finished=False)
        raise
    finally:
        world.close()


@attrs.define
class FirstStep:
    """A reporter passing everything on, that notes when the first step has completed."""

    inner: Reporter
    stepped: bool = False

    def start(self, total: int, done: int, steps_per_epoch: int) -> None:
        self.inner.start(total, done, steps_per_epoch)

    def advance(self, done: int) -> None:
        self.stepped = True
        self.inner.advance(done)

    def log(self, row: dict[str, float]) -> None:
        self.inner.log(row)


def _first_missing(path: Path) -> Path | None:
    """The outermost folder of ``path`` that does not exist yet (what creating it makes), or None."""
    path = path.absolute()
    if path.exists():
        return None
    while not path.parent.exists():
        path = path.parent
    return path


def _remove_created(path: Path, made: Path | None) -> None:
    """Remove what creating the run folder made: the folder and the parents it created (those only
    while empty: another run may have been put there since), or, in a folder that existed before
    (empty, or ``create`` refuses it), only what the run put there."""
    if made is not None:
        shutil.rmtree(path, ignore_errors=True)
        parent = path.absolute().parent
        while parent == made or made in parent.parents:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent
        return
    for child in path.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def read_config(run: RunDir) -> RunConfig:
    return make_config(**read_toml(run.require().config))


def resume(
    path: Path,
    overrides: dict,
    reporter: Reporter | None = None,
    registry: Registry | None = None,
    evaluators: EvaluatorFactory | None = None,
) -> Trainer:
    """Continue a run from its last checkpoint, bit for bit, optionally to a new length.

    The run folder is locked for the whole run (a second process is refused; under torchrun rank 0
    holds it for all ranks); temporary files that killed processes left are removed; a ``last``
    checkpoint that fails its checksum gives way to the newest numbered one that passes; a run
    killed before its first checkpoint starts again from step 0.
    """
    run = RunDir(path).require()
    registry = (registry or get_registry()).preferring(recorded_plugins(run.config))
    config = resumed_config(run, overrides, registry, distributed.world_size(), assembling=True)
    place = Place.resolve(config, recorded="threads" not in overrides)
    world = place.world
    try:
        if not world.is_main:
            return _resume(run, config, registry, reporter, evaluators, place)
        with lock.hold(run.path):
            lock.remove_orphans(run.path)
            return _resume(run, config, registry, reporter, evaluators, place)
    except BaseException:
        world.close(finished=False)
        raise
    finally:
        world.close()


def resumed_config(
    run: RunDir, overrides: dict, registry: Registry, processes: int, *, assembling: bool = False
) -> RunConfig:
    """The run's config.toml with ``overrides`` (settings in ``RESUMABLE`` alone), validated as a new
    run's settings are, for ``processes`` processes (``assembling``: only ``check_settings``, as the
    caller assembles the run next, which checks the rest)."""
    config = read_config(run)
    for line in plugin_differences(run.config):
        warn(line)
    fixed = sorted(set(overrides) - set(RESUMABLE))
    if fixed:
        flag = "--" + fixed[0].replace("_", "-")
        raise ConfigError(
            f"{flag} cannot change when resuming (it is fixed in {run.config}); start a new run"
            " with --config that file instead"
        )
    refuse_zero_threads(overrides)
    if "epochs" in overrides and "steps" not in overrides:
        overrides = {**overrides, "steps": 0}  # a new --epochs replaces an earlier --steps length
    config = changed(config, **overrides)
    if assembling:
        check_settings(config, registry, processes, resumed=True)
    else:
        validate(config, registry, processes, resumed=True, recorded="threads" not in overrides)
    check_identity(recorded_identity(run), config, str(run.config))
    return config


def _resume(
    run: RunDir,
    config: RunConfig,
    registry: Registry,
    reporter: Reporter | None,
    evaluators: EvaluatorFactory | None,
    place: Place,
) -> Trainer:
    source = resume_checkpoint(run)  # processes: checked by check_settings in resumed_config
    reporter = reporter or SilentReporter()
    assembly = assemble(config, registry, place, warm_start=source is None, evaluators=evaluators)
    trainer = Trainer(assembly, run, reporter)
    step = 0
    if source is not None:
        step, trainer.resumed_stats = trainer.state.load(source, place.world, config.cuda_graphs)
    if step >= trainer.total_steps():
        raise ConfigError(
            f"{run.path} is already at step {step} of {trainer.total_steps()};"
            " pass a larger --steps or --epochs to continue it"
        )
    if place.world.is_main:
        run.truncate_metrics(step)
        write_atomic(run.config, assembly.config.to_toml(assembly.plugins))  # the thread count chosen here
    with ctrl_c_requests_stop() as stop:
        trainer.train(step, stop)
    return trainer


def recorded_identity(run: RunDir) -> str | None:
    """The identity the newest readable checkpoint was trained with (None: none has one)."""
    candidates = [run.last, *sorted(run.checkpoints.glob("step-*.safetensors"), reverse=True)]
    for candidate in candidates:
        if candidate.is_file():
            try:
                return checkpoint.metadata(candidate).get(checkpoint.IDENTITY)
            except CheckpointError:
                continue  # damaged: resume_checkpoint says so and falls back
    return None


def resume_checkpoint(run: RunDir) -> Path | None:
    """The checkpoint a resume starts from: ``last``, else the newest numbered one that verifies
    (saying so); None when the run never saved one (it starts again from step 0, saying so)."""
    candidates = [run.last] if run.last.is_file() else []
    candidates += sorted(run.checkpoints.glob("step-*.safetensors"), reverse=True)
    if not candidates:
        warn(f"{run.path} was stopped before its first checkpoint; training it again from step 0")
        return None
    refused = []
    for candidate in candidates:
        try:
            checkpoint.read(candidate)
        except CheckpointError as exc:
            refused.append(str(exc))
            continue
        if refused:
            warn(f"{refused[0].removesuffix(checkpoint.ADVICE)}; resuming from {candidate.name} instead")
        return candidate
    raise CheckpointError(
        f"no checkpoint of {run.path} can be used: {refused[0]}"
        + (f" (and {len(refused) - 1} more refused)" if len(refused) > 1 else "")
    )


def open_run(
    path: Path,
    device: str = "auto",
    sampler: str | None = None,
    ckpt: Path | None = None,
    registry: Registry | None = None,
    with_data: bool = False,
    live: bool = False,
    sampler_options: dict[str, Any] | None = None,
) -> tuple[Pipeline, Data | None, dict[str, str]]:
    """A trained run's pipeline with its weights loaded, for sampling and evaluation.

    No callback is built or run: when the run sampled another generator than the live one (an
    average kept by a callback), the checkpoint holds its weights and they are loaded into a copy of
    the generator, which ``model.sampled_generator`` then names; ``live=True`` ignores them.
    ``sampler_options`` (``gan sample --drs-gamma p80``) override the run's options for the sampler
    alone. The model's ``train_critic`` is the run's critic objective.
    """
    run = RunDir(path).require()
    registry = (registry or get_registry()).preferring(recorded_plugins(run.config))
    config = attrs.evolve(read_config(run), callbacks=(), weightings=())  # training-only components
    if sampler is not None:
        config = attrs.evolve(config, sampler=sampler)
        registry.get("sampler", sampler)
    place = Place.here(device)
    path = ckpt or run.last
    _, meta = checkpoint.read(path)
    spec = DataSpec(**json.loads(meta["spec"]))
    pipe, data = reassemble(config, registry, place, spec, with_data)
    if sampler_options:
        pipe.sampler = instantiate(registry, "sampler", config.sampler, {**config.options, **sampler_options})
        pipe.sampler.check(pipe.model)
    pipe.model.critic_objective = critic_objective(pipe)
    sampled = copy.deepcopy(pipe.generator) if checkpoint.SAMPLED in meta and not live else None
    checkpoint.load_networks(path, pipe.generator, pipe.critic, sampled)
    if sampled is not None:
        pipe.model.sampled_generator, pipe.sampled_by = sampled, meta[checkpoint.SAMPLED]
    for net in (pipe.generator, pipe.critic, sampled):
        if net is not None:
            net.eval()
    return pipe, data, meta
