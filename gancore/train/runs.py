"""Starting, resuming and reopening runs: everything between the CLI and the training loop."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import torch

from gancore.config import (
    EXPERIMENT_REF,
    RunConfig,
    make_config,
    plugin_differences,
    read_toml,
    recorded_plugins,
    refuse_zero_threads,
    resolve_device,
)
from gancore.errors import CheckpointError, ConfigError, warn
from gancore.io import checkpoint, lock
from gancore.io.atomic import write_atomic
from gancore.io.data import resolve_data_dir
from gancore.io.rundir import RunDir
from gancore.plugins import Registry, get_registry
from gancore.records import Data, DataSpec
from gancore.train import callbacks, distributed, graphs, schedule, threads
from gancore.train.loop import (
    Evaluator,
    Reporter,
    SilentReporter,
    Trainer,
    ctrl_c_requests_stop,
    steps_per_epoch,
)
from gancore.train.objective import critic_objective
from gancore.train.pipeline import (
    Pipeline,
    build,
    check_data_parallel,
    instantiate,
    load_data,
    make_optimizer,
    plugin_versions,
    set_matmul_precision,
)
from gancore.train.validate import RESUMABLE, changed, check_identity, validate

#: makes the ``--eval-every`` evaluator of a run's config on its device (``gancore.eval`` has one)
EvaluatorFactory = Callable[[RunConfig, torch.device], Evaluator]


def make_trainer(
    config: RunConfig,
    registry: Registry,
    run: RunDir,
    reporter: Reporter,
    warm_start: bool = False,
    evaluators: EvaluatorFactory | None = None,
    world: distributed.World | None = None,
) -> Trainer:
    """Data on the device, the pipeline and its optimizers: everything but the run folder's files.

    ``world``: the processes of a torchrun run (None: this process alone).
    """
    threads.apply(threads.choose(config.threads))
    world = world or distributed.World()
    device = world.device(resolve_device(config.device))
    distributed.check_batch(world, config.batch_size)
    if config.cuda_graphs:
        graphs.check_device(device)
    set_matmul_precision(config.precision)
    source = warm_start_checkpoint(config.init_from) if warm_start and config.init_from else None
    evaluator = None
    if config.eval_every:
        if evaluators is None:
            raise ConfigError("--eval-every: this caller gave no evaluator; drop --eval-every")
        evaluator = evaluators(config, device)  # fails here, before training, if the data has none
    data = load_data(config, registry, device)
    per_epoch = steps_per_epoch(len(data), config.batch_size, config.n_critic)  # raises if they don't fit
    init = None
    if source is not None:
        init = lambda generator, critic: checkpoint.load_networks(source, generator, critic)  # noqa: E731
    pipe = build(config, registry, data.spec, device, init)
    pipe.world = world
    check_data_parallel(pipe, world)
    distributed.split_streams(world, device, config.seed)  # the networks are equal on every rank
    schedule.check([schedule.parse(s) for s in config.schedules], pipe.components(), config.options)
    callbacks.setup(pipe)  # their state exists before a checkpoint is loaded into it
    opt_g = make_optimizer(config, pipe.generator_params, config.lr_g, 0.0, device)
    opt_d = make_optimizer(config, pipe.critic_params, config.lr_d, config.weight_decay_d, device)
    trainer = Trainer(pipe, data, opt_g, opt_d, run, reporter, evaluator=evaluator)
    total = trainer.total_steps()
    for component in pipe.components():
        component.check_length(total, per_epoch)
    return trainer


def start(
    config: RunConfig,
    out: Path,
    reporter: Reporter | None = None,
    registry: Registry | None = None,
    evaluators: EvaluatorFactory | None = None,
) -> Trainer:
    """Validate everything, create ``out`` (never an existing run) and train from step 0."""
    registry = registry or get_registry()
    validate(config, registry, distributed.world_size())
    config = attrs.evolve(config, threads=threads.choose(config.threads))  # the number, recorded
    run = RunDir(out)
    world = distributed.join(resolve_device(config.device))
    # only rank 0 writes the folder, so only it checks it (the others would see rank 0's new one)
    if world.is_main and run.taken():
        run.create()  # raises the "already exists" error before any work is done
    dataset = instantiate(registry, "dataset", config.dataset, config.options)
    if dataset.needs_files:
        config = attrs.evolve(config, data_dir=str(resolve_data_dir(config.data_dir).resolve()))
    config = attrs.evolve(config, processes=world.size)  # recorded: batch_size is their global batch
    watch = FirstStep(reporter or SilentReporter())
    try:
        trainer = make_trainer(config, registry, run, watch, True, evaluators, world)
        if not world.is_main:
            with ctrl_c_requests_stop() as stop:
                trainer.train(0, stop)
            return trainer
        made = _first_missing(run.path)
        run.create()
        # the lock outside the clean-up: a start refused here removes nothing of the holder's
        with lock.hold(run.path):
            try:
                write_atomic(run.config, config.to_toml(plugin_versions(config, registry)))
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


def warm_start_checkpoint(source: str) -> Path:
    """``--init-from``: a checkpoint file, or a run folder meaning its last checkpoint."""
    if source.startswith(EXPERIMENT_REF):
        name = source.removeprefix(EXPERIMENT_REF)
        raise ConfigError(
            f"--init-from {source} names another experiment of a sweep: run this config with"
            f" `gan sweep {name}.toml THIS.toml`, or pass --init-from RUN_FOLDER"
        )
    path = Path(source)
    if path.is_dir():
        return RunDir(path).require().last
    if not path.is_file():
        raise ConfigError(f"--init-from {source}: no such run folder or checkpoint file")
    return path


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
    config = resumed_config(run, overrides, registry, distributed.world_size())
    world = distributed.join(resolve_device(config.device))
    try:
        if not world.is_main:
            return _resume(run, config, registry, reporter, evaluators, world)
        with lock.hold(run.path):
            lock.remove_orphans(run.path)
            return _resume(run, config, registry, reporter, evaluators, world)
    except BaseException:
        world.close(finished=False)
        raise
    finally:
        world.close()


def resumed_config(run: RunDir, overrides: dict, registry: Registry, processes: int) -> RunConfig:
    """The run's config.toml with ``overrides`` (settings in ``RESUMABLE`` alone), validated as a new
    run's settings are, for ``processes`` processes; its recorded thread count chosen."""
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
    recorded = "threads" not in overrides
    validate(config, registry, processes, resumed=True, recorded=recorded)
    check_identity(recorded_identity(run), config, str(run.config))
    return attrs.evolve(config, threads=threads.choose(config.threads, recorded=recorded))


def _resume(
    run: RunDir,
    config: RunConfig,
    registry: Registry,
    reporter: Reporter | None,
    evaluators: EvaluatorFactory | None,
    world: distributed.World,
) -> Trainer:
    source = resume_checkpoint(run)  # processes: checked by validate in resumed_config
    reporter = reporter or SilentReporter()
    trainer = make_trainer(config, registry, run, reporter, source is None, evaluators, world)
    step = 0 if source is None else _load(trainer, source, config, world)
    if step >= trainer.total_steps():
        raise ConfigError(
            f"{run.path} is already at step {step} of {trainer.total_steps()};"
            " pass a larger --steps or --epochs to continue it"
        )
    if world.is_main:
        run.truncate_metrics(step)
        write_atomic(run.config, config.to_toml(plugin_versions(config, registry)))
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


def _load(trainer: Trainer, source: Path, config: RunConfig, world: distributed.World) -> int:
    """Load ``source`` into the trainer's networks, optimizers, components and RNG; returns its step."""
    step, trainer.resumed_stats = trainer.state.load(source, world, config.cuda_graphs)
    return step


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
    dev = resolve_device(device)
    path = ckpt or run.last
    _, meta = checkpoint.read(path)
    spec = DataSpec(**json.loads(meta["spec"]))
    data = load_data(config, registry, dev) if with_data else None
    pipe = build(config, registry, spec, dev)
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
