"""A run assembled once from its config: where it trains (``Place``), then its data, pipeline,
optimizers, length and evaluator (``Assembly``). ``runs.start`` and ``runs.resume`` train what
``assemble`` built; ``runs.open_run`` (``gan sample``, ``gan eval``) reopens a trained one through
``reassemble``. Nothing here is resolved twice: the device, the threads and the processes once in
``Place.resolve``, the dataset once, the run's length once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import torch
from torch import Tensor

from gancore.components import Dataset
from gancore.config import EXPERIMENT_REF, RunConfig, resolve_device, selected
from gancore.errors import ConfigError
from gancore.io import checkpoint
from gancore.io.data import resolve_data_dir
from gancore.io.rundir import RunDir
from gancore.plugins import Registry, plugin_infos
from gancore.records import Data, DataSpec
from gancore.train import callbacks, distributed, graphs, schedule, threads
from gancore.train.distributed import World
from gancore.train.pipeline import Pipeline, build, instantiate

#: scores samples drawn by the run's sampler: metric name -> value (FID, modes covered, ...)
Evaluator = Callable[[Tensor], dict[str, float]]
#: makes the ``--eval-every`` evaluator of a run's config on its device (``gancore.eval`` has one)
EvaluatorFactory = Callable[[RunConfig, torch.device], Evaluator]


@attrs.frozen(eq=False)
class Place:
    """Where a run trains, resolved once: its processes (torchrun), this process's device and the CPU
    threads it uses (applied)."""

    world: World
    device: torch.device
    threads: int

    @classmethod
    def resolve(cls, config: RunConfig, *, recorded: bool = False) -> Place:
        """``config``'s threads (``recorded``: the count the run recorded, lowered to this machine's
        cores) and device; under torchrun, joins the process group."""
        count = threads.choose(config.threads, recorded=recorded)
        threads.apply(count)
        wanted = resolve_device(config.device)
        world = distributed.join(wanted)
        return cls(world, world.device(wanted), count)

    @classmethod
    def here(cls, device: str) -> Place:
        """One process on ``device``, with the threads it has (sampling and evaluating a run)."""
        return cls(World(), resolve_device(device), torch.get_num_threads())


@attrs.frozen(eq=False)
class Assembly:
    """Everything a training run is made of, built once by ``assemble``."""

    #: the settings as config.toml records them
    config: RunConfig
    place: Place
    data: Data
    pipe: Pipeline
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    steps_per_epoch: int
    total_steps: int
    evaluator: Evaluator | None
    #: name -> version of the plugins that provide its components (config.toml records them)
    plugins: dict[str, str]


def steps_per_epoch(n_examples: int, batch_size: int, n_critic: int) -> int:
    """Generator steps per pass over the data (each step takes ``n_critic`` real batches)."""
    if batch_size > n_examples:
        raise ConfigError(f"--batch-size {batch_size} is larger than the dataset ({n_examples} examples)")
    per_step = batch_size * n_critic
    if per_step > n_examples:
        raise ConfigError(
            f"--batch-size {batch_size} x --n-critic {n_critic} needs {per_step} examples per step,"
            f" but the dataset has {n_examples}; lower --batch-size"
        )
    return n_examples // per_step


def open_dataset(config: RunConfig, registry: Registry) -> tuple[Dataset, Path]:
    """The run's dataset component and the folder it reads (``--data-dir``, ``$GANCORE_DATA`` or the
    cache; unused by a dataset that needs no files)."""
    dataset: Dataset = instantiate(registry, "dataset", config.dataset, config.options)
    return dataset, resolve_data_dir(config.data_dir) if dataset.needs_files else Path(".")


def assemble(
    config: RunConfig,
    registry: Registry,
    place: Place,
    *,
    record: bool = False,
    warm_start: bool = False,
    evaluators: EvaluatorFactory | None = None,
) -> Assembly:
    """The run of ``config`` on ``place``, ready to train from step 0 or to load a checkpoint into.

    ``record``: a new run, whose config.toml records the processes and the data folder (a resumed
    run's config.toml has them already); ``warm_start``: start from ``--init-from``'s weights (a new
    run, or a resumed one killed before its first checkpoint); ``evaluators``: what makes the
    ``--eval-every`` evaluator.
    """
    source = warm_start_checkpoint(config.init_from) if warm_start and config.init_from else None
    world, device = place.world, place.device
    distributed.check_batch(world, config.batch_size)
    if config.cuda_graphs:
        graphs.check_device(device)
    set_matmul_precision(config.precision)
    dataset, root = open_dataset(config, registry)
    config = attrs.evolve(config, threads=place.threads)  # the number, recorded
    if record:  # batch_size is the processes' global batch
        config = attrs.evolve(config, processes=world.size)
        if dataset.needs_files:
            config = attrs.evolve(config, data_dir=str(root.resolve()))
    evaluator = None
    if config.eval_every:
        if evaluators is None:
            raise ConfigError("--eval-every: this caller gave no evaluator; drop --eval-every")
        evaluator = evaluators(config, device)  # fails here, before training, if the data has none
    data = dataset.load(root, device)
    per_epoch = steps_per_epoch(len(data), config.batch_size, config.n_critic)  # raises if they don't fit
    total = config.steps or config.epochs * per_epoch
    init = None
    if source is not None:  # into the plain networks, before a critic step transforms the critic
        init = lambda generator, critic: checkpoint.load_networks(source, generator, critic)  # noqa: E731
    pipe = build(config, registry, data.spec, device, init)
    pipe.world = world
    check_data_parallel(pipe, world)
    distributed.split_streams(world, device, config.seed)  # the networks are equal on every rank
    schedule.check([schedule.parse(s) for s in config.schedules], pipe.components(), config.options)
    callbacks.setup(pipe)  # their state exists before a checkpoint is loaded into it
    opt_g = make_optimizer(config, pipe.generator_params, config.lr_g, 0.0, device)
    opt_d = make_optimizer(config, pipe.critic_params, config.lr_d, config.weight_decay_d, device)
    for component in pipe.components():
        component.check_length(total, per_epoch)
    plugins = plugin_versions(config, registry)
    return Assembly(config, place, data, pipe, opt_g, opt_d, per_epoch, total, evaluator, plugins)


def plugin_versions(config: RunConfig, registry: Registry) -> dict[str, str]:
    """name -> version of the plugins that provide the run's components, for its config.toml.

    Exactly these plugins repeat the run (``GANCORE_PLUGINS``), and where a plugin installed later
    claims one of the run's bare names, they say which plugin the name meant (``Registry.preferring``).
    """
    providers = {registry.get(kind, name).plugin for kind, name in selected(config)}
    return {info.name: info.version for info in plugin_infos() if info.name in providers}


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


def set_matmul_precision(precision: str) -> None:
    """TF32 tensor-core matmuls and convolutions on CUDA unless ``--precision fp32`` (no-op on CPU)."""
    tf32 = precision != "fp32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32


def make_optimizer(config: RunConfig, params: Any, lr: float, weight_decay: float, device: torch.device):
    """Adam (fused: one kernel per step on CUDA, one loop on the CPU), RMSprop or SGD, as configured.

    With ``--cuda-graphs`` Adam and RMSprop keep their step count on the device (``capturable``), so
    a recorded step advances it on every replay.
    """
    capturable = config.cuda_graphs
    if config.optimizer == "adam":
        fused = True if device.type in ("cuda", "cpu") else None
        return torch.optim.Adam(
            params, lr=lr, betas=(config.beta1, config.beta2), weight_decay=weight_decay, fused=fused,
            capturable=capturable,
        )  # fmt: skip
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay, capturable=capturable)
    return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)


def check_data_parallel(pipe: Pipeline, world: World) -> None:
    """Under torchrun, refuse (one line) a component that says it cannot train on batch shares."""
    if not world.distributed:
        return
    for component in pipe.components():
        if component.data_parallel_refusal:
            raise ConfigError(
                f"{component.kind.replace('_', ' ')} {component.name!r} cannot train under torchrun:"
                f" {component.data_parallel_refusal}; train it on one process"
            )
    if pipe.config.cuda_graphs:
        raise ConfigError("--cuda-graphs does not run under torchrun yet; drop --cuda-graphs")


def reassemble(
    config: RunConfig, registry: Registry, place: Place, spec: DataSpec, with_data: bool
) -> tuple[Pipeline, Data | None]:
    """A trained run's pipeline for sampling and evaluating (no optimizers; ``spec``: its
    checkpoint's), and its data when asked."""
    data = None
    if with_data:
        dataset, root = open_dataset(config, registry)
        data = dataset.load(root, place.device)
    return build(config, registry, spec, place.device), data
