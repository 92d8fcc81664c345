"""Least squares GANs (Mao et al. 2017): the critic regresses real samples to b and generated ones to a.

    critic:     1/2 E_P[(D(x) - b)^2] + 1/2 E_Q[(D(G(z)) - a)^2]
    generator:  1/2 E_Q[(D(G(z)) - c)^2]

with a = 0, b = 1, c = 1 (the paper's 0-1 coding). With ``--ls-sigmoid`` D is the sigmoid of the
critic's output, as in the reports' provided discriminator (an MLP ending in a sigmoid, which report
001 kept: LSGAN "is otherwise identical to vanilla GAN"): the squares are then bounded by 1, where on
the raw score they grow without bound. ``cn-lsgan`` is report 001's variant: the same
loss with a gradient penalty on the critic and an L2 pull of G(z) toward real images (see
``gan_lsgan.regularizers``).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import attrs
import torch
from torch import Tensor

from gancore import Loss, option


@attrs.define
class LSGAN(Loss):
    """Least squares GAN, targets a=0 (fake), b=1 (real), c=1 (generator)."""

    name = "lsgan"
    ls_a: float = option(0.0, help="least-squares target of the critic for generated samples")
    ls_b: float = option(1.0, help="least-squares target of the critic for real samples")
    ls_c: float = option(1.0, help="least-squares value the generator wants the critic to give its samples")
    ls_sigmoid: bool = option(
        False, help="take the squares on sigmoid(critic output), as the reports' sigmoid discriminator did"
    )

    def d(self, out: Tensor) -> Tensor:
        """What the squares are taken on: the critic's output, or its sigmoid with --ls-sigmoid."""
        return torch.sigmoid(out) if self.ls_sigmoid else out

    @property
    def threshold(self) -> float:  # type: ignore[override]
        """Outputs nearer b than a count as "real" (read on the sigmoid's scale with --ls-sigmoid)."""
        middle = (self.ls_a + self.ls_b) / 2
        if not self.ls_sigmoid:
            return middle
        middle = min(max(middle, 1e-6), 1 - 1e-6)  # the sigmoid reaches neither 0 nor 1
        return math.log(middle / (1 - middle))

    def critic_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        real_d, fake_d = self.d(real_out), self.d(fake_out)
        return 0.5 * (real_d - self.ls_b).square().mean() + 0.5 * (fake_d - self.ls_a).square().mean()

    def generator_loss(self, fake_out: Tensor) -> Tensor:
        return 0.5 * (self.d(fake_out) - self.ls_c).square().mean()

    def diagnostics(self, real_out: Tensor, fake_out: Tensor) -> dict[str, Tensor]:
        return {"d_real": self.d(real_out).mean(), "d_fake": self.d(fake_out).mean()}

    def logit(self, out: Tensor) -> Tensor:
        # the optimal critic is D* = (b p + a q) / (p + q), so (D - a) / (b - D) = p / q
        lo, hi = sorted((self.ls_a, self.ls_b))
        eps = 1e-6 * (hi - lo)
        d = self.d(out).clamp(lo + eps, hi - eps)
        return torch.log((d - self.ls_a) / (self.ls_b - d))


@attrs.define
class CNLSGAN(LSGAN):
    """LSGAN plus report 001's critic gradient penalty (0.01) and L2 pull of G(z) to real images (0.001)."""

    name = "cn-lsgan"
    recommends: ClassVar[dict[str, Any]] = {
        "regs": ["cn-gp", "cn-l2"],
        "options": {"cn_gp_weight": 0.01, "cn_l2_weight": 0.001},
    }
