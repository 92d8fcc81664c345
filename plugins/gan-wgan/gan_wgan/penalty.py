"""The gradient penalty of WGAN-GP (Gulrajani et al. 2017) as a regularizer usable with any loss."""

from __future__ import annotations

import attrs
from torch import Tensor

from gancore import ConfigError, CriticStepContext, GANModel, Regularizer, gradient_penalty, option


@attrs.define
class GradientPenalty(Regularizer):
    """gp_weight * E[(||grad D(x_hat)|| - 1)^2], x_hat uniform on segments between real and fake samples."""

    name = "gp"
    gp_weight: float = option(
        10.0, help="weight (lambda) of the gradient penalty", validator=attrs.validators.ge(0)
    )

    def check(self, model: GANModel) -> None:
        if model.critic_conditional:  # an interpolate of a real and a fake has no one class to score it as
            raise ConfigError(
                f"--reg {self.name} penalises the critic between a real sample and a fake one, which a"
                " conditional critic scores as different classes; use --reg r1 (or r2) with it"
            )

    def critic_term(self, ctx: CriticStepContext) -> Tensor:
        # through model.score: the penalty constrains the critic exactly as the loss sees it (augmented)
        return self.gp_weight * gradient_penalty(ctx.model.score, ctx.real, ctx.fake)
