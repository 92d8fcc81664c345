"""The small named objects that hooks receive: data, the model, and what one training step saw."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import torch
from torch import Tensor, nn


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


@attrs.define(eq=False)
class GANModel:
    """Everything a technique may need to read about the model being trained or sampled."""

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

    def for_sampling(self) -> GANModel:
        """This model as samplers see it: ``generator`` is the sampled generator.

        Training passes (the steps, regularizers) use ``generator``, the live one; whatever draws
        samples goes through this, so a callback's averaged copy is what gets sampled and evaluated.
        """
        if self.sampled_generator is None:
            return self
        return attrs.evolve(self, generator=self.sampled_generator, sampled_generator=None)

    def score(self, x: Tensor) -> Tensor:
        """The critic's raw output on ``x`` after the run's augmentations, shape (n,)."""
        return self.critic(self.augment(x)).reshape(-1)

    def score_clean(self, x: Tensor) -> Tensor:
        """The critic's raw output without augmentation (what samplers and monitors use)."""
        return self.critic(x).reshape(-1)

    def latent(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return self.prior.sample(n, self.latent_dim, self.device, generator=generator)

    def generate(self, z: Tensor) -> Tensor:
        return self.generator(z).reshape(z.shape[0], *self.spec.shape)


@attrs.define(eq=False)
class CriticStepContext:
    """One critic step: ``fake`` is detached; ``real_out``/``fake_out`` are the critic's outputs.

    ``losses`` holds the loss's per-sample critic losses, shape (n,), when the loss returns them
    (``Loss.per_sample``), else None; they carry the graph, so a weighting reads them without a
    second loss computation.
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


@attrs.define(eq=False)
class GeneratorStepContext:
    """One generator step: ``fake`` carries the generator's graph; ``real`` is the last real batch.

    ``losses``: the per-sample generator losses, shape (n,), when the loss returns them, else None.
    """

    model: GANModel
    real: Tensor
    z: Tensor
    fake: Tensor
    fake_out: Tensor
    step: int
    epoch: int
    losses: Tensor | None = None


@attrs.define(eq=False)
class MonitorContext:
    """What a Lipschitz monitor sees every ``--log-every`` steps: the model and a fresh pair of batches."""

    model: GANModel
    real: Tensor
    fake: Tensor


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
