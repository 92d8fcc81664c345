"""The small named objects that hooks receive: data, the model, and what one training step saw."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import attrs
import torch
from torch import Tensor, nn

from gancore.errors import ConfigError, PluginError


@attrs.frozen
class DataSpec:
    """What a dataset's samples look like: ``shape`` of one sample and whether it is an image."""

    shape: tuple[int, ...] = attrs.field(converter=tuple)
    kind: str = attrs.field(validator=attrs.validators.in_(("image", "points")))
    num_classes: int | None = None

    @property
    def numel(self) -> int:
        return int(torch.Size(self.shape).numel())


@attrs.define
class Data:
    """A whole split held on the training device; batches are gathered and decoded there.

    Images are stored as uint8 (N, C, H, W) and decoded to [-1, 1] per batch, so MNIST costs 47 MB
    of device memory and no DataLoader runs on the hot path. Points are stored as float (N, D).
    """

    x: Tensor
    spec: DataSpec
    labels: Tensor | None = None

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def device(self) -> torch.device:
        return self.x.device

    def decode(self, batch: Tensor) -> Tensor:
        """Stored values to the float range the networks see."""
        if batch.dtype == torch.uint8:
            return batch.float().div_(127.5).sub_(1.0)
        return batch.float()


def _identity(x: Tensor) -> Tensor:
    return x


#: ``objective(model, critic, opt, real, labels)``: one optimizer step of ``critic`` with a run's whole
#: critic objective, against ``model``'s fakes; returns the detached total loss (``GANModel.train_critic``)
CriticObjective = Callable[["GANModel", nn.Module, torch.optim.Optimizer, Tensor, "Tensor | None"], Tensor]


def copy_in_place(own: dict[str, Tensor], state: dict[str, Tensor], what: str) -> None:
    """Copy ``state`` into the live tensors ``own`` (same keys, else a KeyError starting with
    ``what``), in place: they keep their device and address, which a recorded CUDA graph uses."""
    if own.keys() != state.keys():
        missing, unexpected = sorted(own.keys() - state.keys()), sorted(state.keys() - own.keys())
        raise KeyError(f"{what} missing {missing}, unexpected {unexpected}")
    with torch.no_grad():
        for key, tensor in own.items():
            tensor.copy_(state[key])


class SharedState:
    """State that several components of one run share, typed: an augmentation's probability that a
    callback steers, say.

    Subclass it with ``@attrs.define``, give it a ``key`` (unique among plugins: your package's name
    is a good prefix) and tensor fields with defaults (``attrs.field(factory=lambda: torch.zeros(()))``).
    Each component asks the model for the run's one instance, ``model.shared(MyState)``, in its
    ``check(model)``: the first call makes it (its tensors moved to ``model.device``), later ones return
    the same object. The engine saves its tensors in every checkpoint (``shared.<key>.<field>``) and
    copies them back in place on resume, so a recorded CUDA graph keeps reading them. Under torchrun
    each process holds its own copy and the checkpoint keeps rank 0's: update it from values that are
    the same on every process (``gancore.mean_over_processes``).
    """

    key: ClassVar[str] = ""

    def state_dict(self) -> dict[str, Tensor]:
        """The fields, by name: the live tensors."""
        return {f.name: getattr(self, f.name) for f in attrs.fields(type(self))}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        """Copy saved tensors (on the CPU) into the live ones, in place."""
        copy_in_place(self.state_dict(), state, f"shared state {self.key!r}:")


S = TypeVar("S", bound=SharedState)


@attrs.define(eq=False)
class GANModel:
    """Everything a technique may need to read about the model being trained or sampled.

    A conditional model's networks take class labels (``Network.conditional``): the generator is
    called as ``generator(z, labels)``, the critic as ``critic(x, labels)``, labels being int64 class
    indices of shape (n,) below ``spec.num_classes``. Go through ``generate``, ``score`` and
    ``score_clean``, which pass labels only to the networks that take them, and draw fake labels with
    ``labels(n)``, which is None for an unconditional model, so the same code serves both.
    """

    generator: nn.Module
    critic: nn.Module
    prior: Any
    loss: Any
    latent_dim: int
    spec: DataSpec
    device: torch.device
    augment: Callable[[Tensor], Tensor] = _identity
    #: the generator that samplers, the per-epoch grids, ``--eval-every``, ``gan sample`` and
    #: ``gan eval`` draw from, when it is not the live one (a callback's average of its weights)
    sampled_generator: nn.Module | None = None
    #: the networks take class labels: ``generator(z, labels)``, ``critic(x, labels)``
    generator_conditional: bool = False
    critic_conditional: bool = False
    #: the run's critic objective (set by the engine); None for a model made by hand
    critic_objective: CriticObjective | None = attrs.field(default=None, repr=False)
    #: the critic step's hard constraint on the critic's weights (``CriticStep.weight_constraint``)
    critic_constraint: str | None = None
    #: the one class ``labels(n)`` gives, when set by ``for_class`` (samples of one class); else None
    fixed_class: int | None = None
    #: the run's shared states by key (``shared``); one dict for this model and the views made of it
    shared_states: dict[str, SharedState] = attrs.field(factory=dict, repr=False)

    def shared(self, cls: type[S]) -> S:
        """The run's one instance of ``cls`` (a :class:`SharedState`), made on the first call."""
        have = self.shared_states.get(cls.key)
        if have is None:
            if not (isinstance(cls, type) and issubclass(cls, SharedState) and attrs.has(cls) and cls.key):
                raise PluginError(
                    f"model.shared({getattr(cls, '__qualname__', cls)!r}): give an @attrs.define subclass of"
                    " gancore.SharedState with a key"
                )
            have = cls()
            for name, tensor in have.state_dict().items():
                if not isinstance(tensor, Tensor):
                    raise PluginError(
                        f"shared state {cls.key!r}: field {name!r} is a {type(tensor).__name__}; give tensors"
                    )
                setattr(have, name, tensor.to(self.device))
            self.shared_states[cls.key] = have
        elif type(have) is not cls:
            raise PluginError(
                f"shared state key {cls.key!r} is claimed by both {type(have).__qualname__} and"
                f" {cls.__qualname__}; each needs its own key"
            )
        return have  # type: ignore[return-value]

    @property
    def conditional(self) -> bool:
        """Either network takes labels: the engine then hands the real batches' labels to the step."""
        return self.generator_conditional or self.critic_conditional

    def for_sampling(self) -> GANModel:
        """This model as samplers see it: ``generator`` is the sampled generator.

        Training passes (the steps, regularizers) use ``generator``, the live one; whatever draws
        samples goes through this, so a callback's averaged copy is what gets sampled and evaluated.
        """
        if self.sampled_generator is None:
            return self
        return attrs.evolve(self, generator=self.sampled_generator, sampled_generator=None)

    def for_class(self, k: int) -> GANModel:
        """This model asked for class ``k`` alone: its ``labels(n)`` are all ``k``.

        Samplers draw labels through ``labels(n)`` (or let ``generate`` draw them), so any sampler
        given this model draws samples of class ``k``, with no change to the sampler. Refused in one
        line for a generator that takes no labels, or a class the data does not have.
        """
        if not self.generator_conditional:
            raise ConfigError(f"class {k}: the generator is not conditional, it cannot be asked for a class")
        n = self.spec.num_classes or 0
        if not 0 <= k < n:
            raise ConfigError(f"class {k} is out of range: the model's data has {n} classes, 0 to {n - 1}")
        return attrs.evolve(self, fixed_class=int(k))

    def labels(self, n: int, generator: torch.Generator | None = None) -> Tensor | None:
        """``n`` class labels drawn uniformly on the device for a conditional model, else None.

        Drawn with torch on the device, so the step stays free of host reads and a CUDA graph
        draws new ones on every replay; an unconditional model draws nothing (its random stream is
        untouched). A model made by ``for_class(k)`` gives ``k`` n times and draws nothing.
        """
        if not self.conditional:
            return None
        if self.fixed_class is not None:
            return torch.full((n,), self.fixed_class, dtype=torch.int64, device=self.device)
        return torch.randint(self.spec.num_classes, (n,), device=self.device, generator=generator)

    def score(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """The critic's raw output on ``x`` after the run's augmentations, shape (n,).

        ``labels``: the classes ``x`` is scored as, needed by a conditional critic and ignored by
        another.
        """
        return self._critic_out(self.critic, self.augment(x), labels)

    def score_clean(self, x: Tensor, labels: Tensor | None = None, critic: nn.Module | None = None) -> Tensor:
        """The critic's raw output without augmentation (what samplers and monitors use).

        ``critic``: another critic of this model's architecture (a sampler's further-trained copy).
        """
        return self._critic_out(self.critic if critic is None else critic, x, labels)

    def _critic_out(self, critic: nn.Module, x: Tensor, labels: Tensor | None) -> Tensor:
        if not self.critic_conditional:
            return critic(x).reshape(-1)
        if labels is None:
            raise ConfigError(
                "the critic is conditional: score samples with the labels they were generated for,"
                " model.score(x, labels)"
            )
        return critic(x, labels).reshape(-1)

    def latent(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return self.prior.sample(n, self.latent_dim, self.device, generator=generator)

    def generate(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Samples for the latent codes ``z``; a conditional generator draws them for ``labels``, or
        for uniformly drawn labels when none are given (the model's marginal over the classes)."""
        if not self.generator_conditional:
            return self.generator(z).reshape(z.shape[0], *self.spec.shape)
        labels = self.labels(z.shape[0]) if labels is None else labels
        return self.generator(z, labels).reshape(z.shape[0], *self.spec.shape)

    def train_critic(
        self, critic: nn.Module, opt: torch.optim.Optimizer, real: Tensor, labels: Tensor | None = None
    ) -> Tensor:
        """One optimizer step of ``critic`` (a copy of this model's) on ``real`` against this model's fakes.

        For samplers that train the critic further (DRS): in a run this is the run's whole critic
        objective, the step training takes (its loss, regularizers, weightings, ``--clip-grad`` and
        the critic step's ``after_step``), with ``ctx.model.critic`` being ``critic``, so a gradient
        penalty or weight clipping applies as in training. A model made by hand, outside any run, has
        its loss alone. Returns the detached total loss.
        """
        if self.critic_objective is not None:
            return self.critic_objective(self, critic, opt, real, labels)
        fake_labels = self.labels(real.shape[0])
        with torch.no_grad():
            fake = self.generate(self.latent(real.shape[0]), fake_labels)
        real_out = self.score_clean(real, labels, critic)
        loss = self.loss.critic_loss(real_out, self.score_clean(fake, fake_labels, critic)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.detach()


@attrs.define(eq=False)
class CriticStepContext:
    """One critic step: ``fake`` is detached; ``real_out``/``fake_out`` are the critic's outputs.

    ``losses`` holds the loss's per-sample critic losses, shape (n,), when the loss returns them
    (``Loss.per_sample``), else None; they carry the graph, so a weighting reads them without a
    second loss computation.

    For a conditional model (``model.conditional``), ``real_labels`` are the real batch's classes and
    ``fake_labels`` the classes the fakes were generated for (drawn uniformly), int64 of shape (n,);
    both None otherwise.
    """

    model: GANModel
    real: Tensor
    z: Tensor
    fake: Tensor
    real_out: Tensor
    fake_out: Tensor
    step: int
    epoch: int
    losses: Tensor | None = None
    real_labels: Tensor | None = None
    fake_labels: Tensor | None = None


@attrs.define(eq=False)
class GeneratorStepContext:
    """One generator step: ``fake`` carries the generator's graph; ``real`` is the last real batch.

    ``losses``: the per-sample generator losses, shape (n,), when the loss returns them, else None.
    ``real_out``: the frozen critic's outputs on ``real`` (detached), when the loss asks for them
    (``Loss.needs_real_out``), else None. For a conditional model, ``real_labels`` are the last real
    batch's classes and ``fake_labels`` the classes the fakes were generated for; both None otherwise.
    """

    model: GANModel
    real: Tensor
    z: Tensor
    fake: Tensor
    fake_out: Tensor
    step: int
    epoch: int
    losses: Tensor | None = None
    real_labels: Tensor | None = None
    fake_labels: Tensor | None = None
    real_out: Tensor | None = None


@attrs.frozen(eq=False)
class StepLosses:
    """The losses of one optimizer step, as device tensors (nothing is read to the host).

    ``adversarial``: the loss's plain mean over the batch; ``weighted``: its weighted mean when a
    weighting (``--weighting``) weighed per-sample losses, else None; ``terms``: each regularizer's
    term by its metrics key (``reg/<name>``, ``reg/<name>/g`` on the generator's side); ``total``: what
    the step differentiated (the weighted mean, or the plain one, plus the terms).
    """

    adversarial: Tensor
    weighted: Tensor | None
    terms: dict[str, Tensor]
    total: Tensor


@attrs.frozen(eq=False)
class CriticStepResult:
    """What one critic step computed: its losses, the critic's outputs on the real and the generated
    batch (detached), the generated batch, and the gradient norm before clipping; device tensors."""

    losses: StepLosses
    real_out: Tensor
    fake_out: Tensor
    fake: Tensor
    grad_norm: Tensor


@attrs.frozen(eq=False)
class GeneratorStepResult:
    """What one generator step computed: its losses, the critic's outputs on the generated batch
    (detached), and the generator's gradient norm before clipping; device tensors."""

    losses: StepLosses
    fake_out: Tensor
    grad_norm: Tensor


@attrs.define(eq=False)
class MonitorContext:
    """What a Lipschitz monitor sees every ``--log-every`` steps: the model, a fresh pair of batches,
    and the generator steps done. A monitor that draws random numbers seeds its own generator from
    ``step``, so that a resumed run measures what an uninterrupted one does."""

    model: GANModel
    real: Tensor
    fake: Tensor
    step: int = 0


@attrs.frozen
class RunProgress:
    """Where a run stands, as callbacks see it at ``on_start``, ``on_epoch_end`` and ``on_run_end``.

    ``step`` counts the generator steps done (0 at a fresh start, the checkpoint's step on resume;
    at ``on_run_end`` the step of the last checkpoint); ``epoch`` the passes over the data completed.
    """

    model: GANModel
    step: int
    epoch: int
    total_steps: int
    steps_per_epoch: int
    #: the run folder, for a callback that writes files of its own (a TensorBoard log)
    folder: Path
    #: False when ``on_run_end`` comes from a stop before the run's length (Ctrl-C, divergence)
    finished: bool = True
    #: True in the process that writes the run folder: always on one process, rank 0 under torchrun
    #: (a callback that writes files writes them only here; every rank still updates its state)
    writer: bool = True


@attrs.frozen(eq=False)
class StepEnd:
    """How the generator step just taken ended, as every callback's ``on_step_end`` sees it: the
    engine's own duties (``gancore/train/duties.py``: the metrics row, grids, evaluation,
    checkpoints, the stop) and a plugin's callbacks alike.

    ``done``: generator steps done; ``epoch``: the 0-based epoch the step belonged to; the flags say
    which of the run's points it is; ``d_health``/``g_health``: (last loss, summed gradient norm) of
    the critic and the generator, and ``real``/``fake``: the step's last batches, all on the device
    (reading them costs a sync: read them only when a flag says you must).
    """

    done: int
    epoch: int
    total: int
    steps_per_epoch: int
    #: the step ends an epoch: the grid, the evaluation (``--eval-every``) and a checkpoint follow
    end_of_epoch: bool
    #: a numbered checkpoint is due (``--ckpt-every``)
    numbered: bool
    #: a stop was asked for (Ctrl-C, SIGTERM; under torchrun agreed by every rank)
    stopping: bool
    #: a metrics row is written at this step (``--log-every``, and the last)
    logging: bool
    d_health: Tensor
    g_health: Tensor
    real: Tensor
    fake: Tensor
    #: the learning rates the step used (host floats: the schedule's factor times ``--lr-g/--lr-d``)
    lr_g: float
    lr_d: float
    #: the options a schedule (``--schedule``) set for this epoch
    scheduled: dict[str, float]

    @property
    def last(self) -> bool:
        return self.done == self.total

    @property
    def saving(self) -> bool:
        """A checkpoint is written at this step: an epoch's end, ``--ckpt-every``, the last, a stop."""
        return self.end_of_epoch or self.numbered or self.last or self.stopping
