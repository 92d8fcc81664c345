"""The small named objects that hooks receive: data, the model, and what one training step saw."""

from __future__ import annotations

from collections.abc import Callable
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
    """One critic step: ``fake`` is detached; ``real_out``/``fake_out`` are the critic's outputs."""

    model: GANModel
    real: Tensor
    z: Tensor
    fake: Tensor
    real_out: Tensor
    fake_out: Tensor
    step: int
    epoch: int


@attrs.define(eq=False)
class GeneratorStepContext:
    """One generator step: ``fake`` carries the generator's graph; ``real`` is the last real batch."""

    model: GANModel
    real: Tensor
    z: Tensor
    fake: Tensor
    fake_out: Tensor
    step: int
    epoch: int


@attrs.define(eq=False)
class MonitorContext:
    """What a Lipschitz monitor sees every ``--log-every`` steps: the model and a fresh pair of batches."""

    model: GANModel
    real: Tensor
    fake: Tensor
