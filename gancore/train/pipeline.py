"""Assembling a run from its config: components from the registry, networks, optimizers, data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import torch
from torch import Tensor

from gancore.components import (
    Callback,
    CriticStep,
    LipschitzMonitor,
    Loss,
    LRSchedule,
    Network,
    Regularizer,
    Sampler,
    SampleWeighting,
)
from gancore.config import RunConfig
from gancore.errors import ConfigError
from gancore.functional import compose
from gancore.plugins import Registry
from gancore.records import DataSpec, GANModel
from gancore.train.distributed import World


def instantiate(registry: Registry, kind: str, name: str, options: dict[str, Any]) -> Any:
    """The component ``name`` of ``kind``, built with its options from the resolved config."""
    entry = registry.get(kind, name)
    kwargs = {spec.name: options[spec.name] for spec in entry.cls.option_specs() if spec.name in options}
    try:
        return entry.cls(**kwargs)
    except (ValueError, TypeError) as exc:
        # attrs' own validators (in_, and others) put the message first and the attribute, the
        # allowed values and the value after it: the message alone is the line a user needs
        message = exc.args[0] if len(exc.args) > 1 and isinstance(exc.args[0], str) else exc
        raise ConfigError(f"{kind.replace('_', ' ')} {name!r}: {message}") from None


@attrs.define(eq=False)
class Pipeline:
    """The assembled run: the model record plus every component the loop calls."""

    config: RunConfig
    model: GANModel
    loss: Loss
    regs: list[tuple[str, Regularizer]]
    critic_step: CriticStep
    monitors: list[tuple[str, LipschitzMonitor]]
    sampler: Sampler
    lr_schedule: LRSchedule
    #: per-sample weights on the losses (only with a loss that returns per-sample values)
    weightings: list[tuple[str, SampleWeighting]] = attrs.field(factory=list)
    #: called at fixed points of the run; their state goes into the checkpoints
    callbacks: list[tuple[str, Callback]] = attrs.field(factory=list)
    #: the callback that gave ``model.sampled_generator`` (set by ``train.callbacks.setup``)
    sampled_by: str = ""
    #: the processes of the run (torchrun): averages gradients, draws each rank's latents
    world: World = attrs.field(factory=World)
    generator_params: list[torch.nn.Parameter] = attrs.field(init=False)
    critic_params: list[torch.nn.Parameter] = attrs.field(init=False)
    #: the training step's own passes: ``model.generate`` and ``model.score``, compiled with --compile
    generate: Callable[[Tensor, Tensor | None], Tensor] = attrs.field(init=False)
    score: Callable[[Tensor, Tensor | None], Tensor] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        # the trainable parameters; anything a plugin froze stays frozen
        self.generator_params = [p for p in self.model.generator.parameters() if p.requires_grad]
        self.critic_params = [p for p in self.model.critic.parameters() if p.requires_grad]
        self.generate, self.score = self.model.generate, self.model.score
        if self.config.compile:
            # Only the step's own passes: what components call through ``ctx.model`` stays eager,
            # because a compiled critic cannot be differentiated twice (a gradient penalty does).
            # The compiled functions share the modules' parameters, so nothing is copied.
            self.generate, self.score = torch.compile(self.generate), torch.compile(self.score)

    def autocast(self) -> torch.autocast:
        """The forward passes' precision: bfloat16 autocast with ``--precision bf16``, else off."""
        device, cfg = self.model.device.type, self.config
        # No cache of cast weights: with it, the real and the fake pass share one bf16 copy of each
        # weight and their gradients are summed in bf16 before the cast back (measured on an H200:
        # 0.4% off the graphed step, which cannot keep the cache across a recording, by step 20).
        bf16 = cfg.precision == "bf16"
        return torch.autocast(device, dtype=torch.bfloat16, enabled=bf16, cache_enabled=False)

    def components(self) -> list[Any]:
        """The component objects the loop calls (the ones whose options can follow a schedule)."""
        named = [*self.regs, *self.weightings, *self.monitors, *self.callbacks]
        fixed = [self.loss, self.critic_step, self.model.prior, self.sampler, self.lr_schedule]
        return [*fixed, *(component for _, component in named)]

    @property
    def generator(self) -> torch.nn.Module:
        return self.model.generator

    @property
    def critic(self) -> torch.nn.Module:
        return self.model.critic


def build(
    config: RunConfig,
    registry: Registry,
    spec: DataSpec,
    device: torch.device,
    init: Callable[[torch.nn.Module, torch.nn.Module], None] | None = None,
) -> Pipeline:
    """Every component of the config; networks initialised from ``config.seed``, or by ``init``.

    ``init`` (a warm start) sees the plain networks, before the critic step transforms the critic
    (spectral normalization renames its weights), so any run can warm-start any other.
    """
    o = config.options
    loss: Loss = instantiate(registry, "loss", config.loss, o)
    networks = {
        "generator": instantiate(registry, "generator", config.generator, o),
        "critic": instantiate(registry, "critic", config.critic, o),
    }
    for kind, network in networks.items():
        check_conditional(kind, network, spec)
    torch.manual_seed(config.seed)
    generator = networks["generator"].build(spec, config.latent_dim)
    critic = networks["critic"].build(spec, config.latent_dim)
    critic_step: CriticStep = instantiate(registry, "critic_step", config.critic_step, o)
    if init is not None:
        init(generator, critic)
    critic = critic_step.prepare(critic)
    augmentations = [instantiate(registry, "augmentation", n, o) for n in config.augment]
    augment = compose(augmentations)
    model = GANModel(
        generator=generator.to(device),
        critic=critic.to(device),
        prior=instantiate(registry, "prior", config.prior, o),
        loss=loss,
        latent_dim=config.latent_dim,
        spec=spec,
        device=device,
        augment=augment,
        generator_conditional=networks["generator"].conditional,
        critic_conditional=networks["critic"].conditional,
        critic_constraint=critic_step.weight_constraint,
    )
    pipe = Pipeline(
        config=config,
        model=model,
        loss=loss,
        regs=[(n, instantiate(registry, "regularizer", n, o)) for n in config.regs],
        critic_step=critic_step,
        monitors=[(n, instantiate(registry, "monitor", n, o)) for n in config.monitors],
        sampler=instantiate(registry, "sampler", config.sampler, o),
        lr_schedule=instantiate(registry, "lr_schedule", config.lr_schedule, o),
        weightings=[(n, instantiate(registry, "weighting", n, o)) for n in config.weightings],
        callbacks=[(n, instantiate(registry, "callback", n, o)) for n in config.callbacks],
    )
    if config.weightings and not loss.per_sample:
        raise ConfigError(
            f"--weighting {config.weightings[0]} weights per-sample losses, but loss {config.loss!r}"
            " returns one value per batch; choose a loss with per-sample values (per_sample = True)"
        )
    repeated = sorted({n for n in config.callbacks if config.callbacks.count(n) > 1})
    if repeated:
        raise ConfigError(f"--callback {repeated[0]} is given twice; a callback's state is saved by name")
    for component in [*pipe.components(), *augmentations]:
        component.check(model)
    return pipe


def check_conditional(kind: str, network: Network, spec: DataSpec) -> None:
    """A conditional network needs data with classes; refused before anything is built."""
    if network.conditional and not spec.num_classes:
        raise ConfigError(
            f"{kind} {network.name!r} is conditional (it takes class labels), but the data has no classes;"
            f" choose a dataset with labels or an unconditional {kind}"
        )
