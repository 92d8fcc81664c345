"""Base classes of everything a plugin can provide, and ``option()`` to declare a component's flags.

Subclass one base per component, decorate it with ``@attrs.define``, and declare its options as
fields::

    @attrs.define
    class Hinge(Loss):
        "Hinge loss (Lim & Ye 2017)."

        name = "hinge"
        margin: float = option(1.0, help="margin of the critic's hinge")

        def critic_loss(self, real_out, fake_out):
            return F.relu(self.margin - real_out).mean() + F.relu(self.margin + fake_out).mean()

        def generator_loss(self, fake_out):
            return -fake_out.mean()

Option names are shared across components (``--dropout`` sets every selected component's
``dropout``), so prefix yours when the meaning is specific: ``gp_weight``, not ``weight``. A shared
name is one typed flag of ``gan run``: two installed components that give it different types stop
``gan run`` with both named.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import attrs
import torch
from torch import Tensor, nn

from gancore.evaluation import Evaluation
from gancore.records import (
    CriticStepContext,
    CriticStepResult,
    Data,
    DataSpec,
    GANModel,
    GeneratorStepContext,
    GeneratorStepResult,
    MonitorContext,
    RunProgress,
    StepEnd,
    copy_in_place,
)

OPTION_TYPES = (bool, int, float, str)


def option(default: Any, *, help: str, validator: Any = None) -> Any:
    """Declare a component option: an attrs field that becomes a ``gan run`` flag."""
    return attrs.field(default=default, validator=validator, metadata={"help": help})


@attrs.frozen
class OptionSpec:
    name: str
    type: type
    default: Any
    help: str

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


class Component:
    """Common to every component: a ``name`` to select it by, a help line, recommended settings."""

    kind: ClassVar[str] = "component"
    name: ClassVar[str] = ""
    help: ClassVar[str] = ""
    recommends: ClassVar[dict[str, Any]] = {}
    #: why this component cannot train under torchrun, where each process sees its own share of
    #: the batch (e.g. it ranks the whole batch); empty when it can. Checked when a run is assembled.
    data_parallel_refusal: ClassVar[str] = ""
    #: companions this component cannot work without, by setting: ``{"callbacks": ("ema",)}``. A run
    #: that selects it without them is refused in one line naming the flag that adds them (unlike
    #: ``recommends``, which adds them itself, so use this where adding silently would surprise).
    requires: ClassVar[dict[str, tuple[str, ...]]] = {}

    def check(self, model: GANModel) -> None:
        """Raise ``ConfigError`` (one line) if this component cannot work in this model.

        ``model.spec`` says what the data looks like, ``model.loss`` which loss is used. Called once
        when a run is assembled, before its folder is created or any step runs.
        """
        return None

    def check_length(self, total_steps: int, steps_per_epoch: int) -> None:
        """Raise ``ConfigError`` (one line) if this component cannot work in a run of
        ``total_steps`` generator steps (``steps_per_epoch`` to an epoch): an option that takes
        effect only after the run's end, for example. Called when a run is assembled or resumed,
        before its folder is created or any step runs."""
        return None

    @classmethod
    def summary(cls) -> str:
        if cls.help:
            return cls.help
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""

    @classmethod
    def option_specs(cls) -> list[OptionSpec]:
        if not attrs.has(cls):
            return []
        attrs.resolve_types(cls)
        specs = []
        for field in attrs.fields(cls):
            if not field.init or field.name.startswith("_"):
                continue
            if field.type not in OPTION_TYPES:
                what = "no type annotation" if field.type is None else f"type {field.type!r}"
                raise TypeError(
                    f"option {field.name!r} of {cls.kind} {cls.name!r} has {what};"
                    " options must be bool, int, float or str"
                )
            if field.default is attrs.NOTHING:  # a flag must have a value when the user gives none
                raise TypeError(
                    f"option {field.name!r} of {cls.kind} {cls.name!r} has no default;"
                    " declare it as gancore.option(default, help=...)"
                )
            specs.append(OptionSpec(field.name, field.type, field.default, field.metadata.get("help", "")))
        return specs


class Loss(Component):
    """An adversarial loss on the critic's raw outputs (shape (n,)).

    ``critic_loss`` and ``generator_loss`` return a scalar, or with ``per_sample = True`` one value
    per sample, shape (n,) (for the critic: sample i's real and fake terms together). The engine
    reduces per-sample losses to their mean, or to the weighted mean the selected weightings ask for
    (``--weighting``), so a technique that weights or selects samples needs no second loss.
    """

    kind = "loss"
    #: critic outputs above this count as "real" when measuring the critic's accuracy
    threshold: float = 0.0
    #: True when the losses return one value per sample (what ``--weighting`` needs)
    per_sample: ClassVar[bool] = False
    #: True when the generator's loss also needs the critic's outputs on the real batch (relativistic
    #: losses): the generator step then scores it too and calls ``generator_loss(fake_out, real_out)``
    needs_real_out: ClassVar[bool] = False

    def critic_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        raise NotImplementedError

    def generator_loss(self, fake_out: Tensor, real_out: Tensor | None = None) -> Tensor:
        """The generator's loss; ``real_out`` (detached) is given only when ``needs_real_out``."""
        raise NotImplementedError

    def diagnostics(self, real_out: Tensor, fake_out: Tensor) -> dict[str, Tensor]:
        """Extra scalars worth logging (a divergence estimate, ...); computed with no grad."""
        return {}

    def logit(self, out: Tensor) -> Tensor | None:
        """The critic output read as log D/(1-D) of real vs fake, or None if it cannot be."""
        return None


class Regularizer(Component):
    """A term added to the critic's and/or the generator's loss. Return None to add nothing."""

    kind = "regularizer"

    def critic_term(self, ctx: CriticStepContext) -> Tensor | None:
        return None

    def generator_term(self, ctx: GeneratorStepContext) -> Tensor | None:
        return None


class SampleWeighting(Component):
    """Weights on the per-sample losses of a step; the engine optimises ``sum(w * l) / sum(w)``.

    Return a tensor of shape (n,), >= 0 (a 0/1 mask selects samples), or None to leave that step's
    samples as they are. Weights are constants of the step (the engine detaches them); the weights
    of several selected weightings multiply. Runs inside the step: no host reads.
    """

    kind = "weighting"

    def critic_weights(self, ctx: CriticStepContext) -> Tensor | None:
        return None

    def generator_weights(self, ctx: GeneratorStepContext) -> Tensor | None:
        return None


class CriticStep(Component):
    """How the critic is stepped: a one-off transform of the network and an action after each step."""

    kind = "critic_step"

    @property
    def weight_constraint(self) -> str | None:
        """A hard constraint this step puts on the critic's weights (say "weight clipping to
        [-0.01, 0.01]"), or None. Components that cannot work beside one (a penalty on the critic's
        gradient, which clipping caps) read it as ``model.critic_constraint`` in their ``check``."""
        return None

    def prepare(self, critic: nn.Module) -> nn.Module:
        return critic

    @torch.no_grad()
    def after_step(self, critic: nn.Module) -> None:
        return None


class LipschitzMonitor(Component):
    """Measures (bounds on) the critic's Lipschitz constant; called only at logging time.

    A monitor that carries something from one measurement to the next (a power iteration's vectors)
    returns it from ``state_dict()``: checkpoints keep it, so a resumed run measures what an
    uninterrupted one does.
    """

    kind = "monitor"

    def measure(self, ctx: MonitorContext) -> dict[str, Tensor]:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Tensor]:
        """What to keep across a resume, by key (saved as ``monitor.<name>.<key>``); none by default."""
        return {}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        """Take back what ``state_dict()`` returned (on the CPU); a checkpoint without any gives ``{}``."""
        if state:
            raise KeyError(f"monitor {self.name!r} keeps no state but the checkpoint has {sorted(state)}")


class Sampler(Component):
    """Draws samples from a trained model. Set ``needs_data`` to get the training set in ``prepare``.

    What ``prepare`` learns (a calibration, a further-trained critic) can be kept: ``state_dict()``
    returns it as tensors, which ``gan sample`` and ``gan eval`` save in the run folder, keyed by the
    sampler's name, its options, the checkpoint and the generator sampled; a later call with the same
    key hands them to ``load_state_dict`` instead of running ``prepare`` again. ``prepare`` runs on
    an RNG stream of its own, so what it learns does not depend on ``--seed``.
    """

    kind = "sampler"
    needs_data: ClassVar[bool] = False

    def prepare(self, model: GANModel, data: Data | None) -> None:
        """Work done once before sampling (a burn-in, a calibration, further critic training).

        To train the critic further, train a copy with ``model.train_critic(copy, opt, real, labels)``:
        the run's whole critic objective, regularizers and critic constraint included.
        """
        return None

    def sample(self, model: GANModel, n: int, batch_size: int = 1000) -> Tensor:
        raise NotImplementedError

    def stats(self) -> dict[str, float | int | None]:
        """What the last ``sample`` measured (an acceptance rate, ...): printed by ``gan sample``,
        written to eval.json and, during training, to metrics.jsonl as ``sampler/<key>``."""
        return {}

    def state_dict(self) -> dict[str, Tensor]:
        """What the last ``prepare`` learned, as tensors by key; {} (the default) saves nothing, and
        ``prepare`` then runs on every ``gan sample``. Save floats as 0-d tensors."""
        return {}

    def load_state_dict(self, state: dict[str, Tensor], model: GANModel) -> None:
        """Take back what ``state_dict()`` returned (tensors on the CPU), in place of ``prepare``.

        ``model`` is the one about to be sampled (the same run, checkpoint and generator as when the
        state was saved), e.g. to copy its critic before loading further-trained weights into it.
        """
        if state:
            raise NotImplementedError(f"sampler {self.name!r} saved state but has no load_state_dict")


class LRSchedule(Component):
    """A factor on the configured learning rates, per epoch: a function of the epoch and the run's
    length alone (so a resumed run follows it exactly; a run extended with ``--resume --epochs``
    follows the schedule of its new length from there)."""

    kind = "lr_schedule"

    def factor(self, epoch: int, epochs: int) -> float:
        """The factor for ``epoch`` (0-based) of a run of ``epochs`` epochs (a run given in steps:
        its steps in epochs, rounded up)."""
        return 1.0


class Callback(Component):
    """Called at fixed points of a run; may keep tensor state, saved in the run's checkpoints.

    The call points, in run order (``gancore.hookspecs.gancore_callbacks`` says more):
    ``check(model)`` when the run is assembled; ``setup(model)`` once, before any checkpoint is
    loaded (create state tensors here); ``load_state_dict`` on resume; ``on_start(run)``;
    ``after_critic_step(model)`` and ``after_generator_step(model)`` inside every step;
    ``on_step_end(run, end)`` after it; ``on_epoch_end(run)`` before the epoch's grid and
    checkpoint; ``on_run_end(run)`` last.
    Between them, ``on_metrics(run, row)`` after every row written to metrics.jsonl and
    ``on_grid(run, picture)`` after every sample grid saved: what a logger (TensorBoard) records.
    """

    kind = "callback"

    def setup(self, model: GANModel) -> None:
        """Create state (tensors on ``model.device``); a resumed run then loads saved values into it."""
        return None

    def sampled_generator(self) -> nn.Module | None:
        """A generator to sample instead of the live one (an average of its weights), or None.

        Asked once, after ``setup``. It must have the live generator's architecture: its weights are
        saved in every checkpoint, and ``gan sample``/``gan eval`` load them into a copy of the
        generator without running any callback.
        """
        return None

    def on_start(self, run: RunProgress) -> None:
        return None

    def after_critic_step(
        self, model: GANModel, result: CriticStepResult | None = None
    ) -> dict[str, Tensor] | None:
        """After every optimizer step of the critic. A method that names ``result`` is given the
        step's :class:`CriticStepResult` (its losses, the critic's outputs on the real and the
        generated batch, the gradient norm: device tensors); one that does not, is not. Return None,
        or metrics to log: name -> a scalar tensor (no ``.item()``: that reads the device), averaged
        over the steps of each metrics row as ``<callback>/<name>``."""
        return None

    def after_generator_step(
        self, model: GANModel, result: GeneratorStepResult | None = None
    ) -> dict[str, Tensor] | None:
        """After every optimizer step of the generator; ``result`` (when named): the step's
        :class:`GeneratorStepResult`. Returns as ``after_critic_step`` does."""
        return None

    def on_step_end(self, run: RunProgress, end: StepEnd) -> None:
        """After every generator step (its critic steps and generator steps), after its metrics row
        and before the epoch's end, its grid and its checkpoint: ``end`` says what the step was (the
        last of an epoch, a logging step, a saving step ...) with its health, last batches and
        learning rates on the device. The engine's own duties are callbacks on this event
        (``gancore/train/duties.py``): read them as the reference. Nothing here may read the device
        on every step (that is a sync); do it when a flag of ``end`` says so."""
        return None

    def on_epoch_end(self, run: RunProgress) -> None:
        return None

    def on_run_end(self, run: RunProgress) -> None:
        return None

    def on_metrics(self, run: RunProgress, row: dict[str, float]) -> None:
        """A row was appended to metrics.jsonl (``run.step`` is its step): the training row every
        ``--log-every`` steps, and at an evaluated epoch's end the evaluation's (``eval/...`` keys).
        Its values are Python numbers, already read from the device: using them costs no sync."""
        return None

    def on_grid(self, run: RunProgress, picture: Tensor) -> None:
        """A sample grid was saved (``samples/epoch-NNNN.png``, after ``run.step`` steps): ``picture``
        is that PNG's uint8 (C, H, W) tensor on the CPU, C being 1 (grey) or 3 (RGB)."""
        return None

    def state_dict(self) -> dict[str, Tensor]:
        """The tensors to save, by key (saved as ``callback.<name>.<key>``); return the live tensors."""
        return {}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        """Restore saved state (on the CPU); by default copied in place into ``state_dict()``'s tensors.

        In place, so that tensors keep their device and address (a recorded CUDA graph uses them).
        """
        copy_in_place(self.state_dict(), state, "state keys differ:")


class Prior(Component):
    """A latent distribution."""

    kind = "prior"

    def sample(
        self, n: int, latent_dim: int, device: torch.device, generator: torch.Generator | None = None
    ) -> Tensor:
        raise NotImplementedError


class Network(Component):
    """A generator or critic architecture; ``build`` makes the module for a dataset's shape.

    A conditional network (``conditional = True``) takes class labels: the generator's module is
    called as ``module(z, labels)``, the critic's as ``module(x, labels)``, labels being int64 class
    indices of shape (n,) below ``spec.num_classes`` (an embedding's size). Only data with classes
    can train one; the engine then hands the real batches' labels to the step.
    """

    kind = "network"
    conditional: ClassVar[bool] = False

    def build(self, spec: DataSpec, latent_dim: int) -> nn.Module:
        raise NotImplementedError


class Dataset(Component):
    """A training set. ``needs_files`` is False for data generated in memory (the 2D toys)."""

    kind = "dataset"
    needs_files: ClassVar[bool] = True

    def load(self, root: Path, device: torch.device) -> Data:
        raise NotImplementedError

    def evaluation(self) -> Evaluation | None:
        """How samples of this data are scored (`gan eval`, ``--eval-every``), or None: it cannot be.

        Return a fresh object each call: it holds what ``prepare`` loaded. The built-in ones come from
        gancore: ``ImageEvaluation`` (a feature network and its floor) and ``ModeEvaluation`` (the
        modes of a Gaussian mixture).
        """
        return None


class Augmentation(Component):
    """A differentiable augmentation of critic inputs."""

    kind = "augmentation"

    def __call__(self, x: Tensor) -> Tensor:
        raise NotImplementedError
