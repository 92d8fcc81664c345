"""The two terms report 001 adds to LSGAN (``cn-lsgan``); each works with any loss.

- ``cn-gp``: lambda1 * E[(||grad D(x_hat)||_2 - 1)^2] on random interpolates x_hat between real and
  generated samples (the penalty of Gulrajani et al. 2017), added to the critic's loss.
- ``cn-l2``: lambda2 * E_i ||G(z_i) - x_i||_2^2, the squared distance of each generated sample to the
  real sample beside it in the batch, added to the generator's loss.

The penalty is gancore's ``gradient_penalty``, the one gan-wgan's ``gp`` uses: this package does not
depend on gan-wgan.
"""

from __future__ import annotations

import attrs
from torch import Tensor

from gancore import (
    ConfigError,
    CriticStepContext,
    GANModel,
    GeneratorStepContext,
    Regularizer,
    gradient_penalty,
    option,
)


@attrs.define
class CNGradientPenalty(Regularizer):
    """cn_gp_weight * E[(||grad D(x_hat)|| - 1)^2] on real/fake interpolates (critic loss)."""

    name = "cn-gp"
    cn_gp_weight: float = option(
        0.01, help="weight (lambda1) of cn-lsgan's gradient penalty", validator=attrs.validators.ge(0)
    )

    def check(self, model: GANModel) -> None:
        if model.critic_conditional:  # an interpolate of a real and a fake has no one class to score it as
            raise ConfigError(
                f"--reg {self.name} penalises the critic between a real sample and a fake one, which a"
                " conditional critic scores as different classes; use --reg r1 (or r2) with it"
            )

    def critic_term(self, ctx: CriticStepContext) -> Tensor:
        return self.cn_gp_weight * gradient_penalty(ctx.model.score, ctx.real, ctx.fake)


@attrs.define
class CNL2Pull(Regularizer):
    """cn_l2_weight * E||G(z) - x||^2, pulling each generated sample toward a real one (generator loss)."""

    name = "cn-l2"
    cn_l2_weight: float = option(
        0.001,
        help="weight (lambda2) of cn-lsgan's L2 pull toward real images",
        validator=attrs.validators.ge(0),
    )

    def generator_term(self, ctx: GeneratorStepContext) -> Tensor:
        diff = (ctx.fake - ctx.real.detach()).flatten(1)
        return self.cn_l2_weight * diff.square().sum(1).mean()
