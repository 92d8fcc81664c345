"""The gradient penalty of WGAN-GP (Gulrajani et al. 2017) as a regularizer usable with any loss."""

from __future__ import annotations

import attrs
from torch import Tensor

from gancore import CriticStepContext, Regularizer, gradient_penalty, option


@attrs.define
class GradientPenalty(Regularizer):
    """gp_weight * E[(||grad D(x_hat)|| - 1)^2], x_hat uniform on segments between real and fake samples."""

    name = "gp"
    gp_weight: float = option(
        10.0, help="weight (lambda) of the gradient penalty", validator=attrs.validators.ge(0)
    )

    def critic_term(self, ctx: CriticStepContext) -> Tensor:
        # through model.score: the penalty constrains the critic exactly as the loss sees it (augmented)
        return self.gp_weight * gradient_penalty(ctx.model.score, ctx.real, ctx.fake)
