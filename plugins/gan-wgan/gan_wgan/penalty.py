"""The gradient penalty of WGAN-GP (Gulrajani et al. 2017) as a regularizer usable with any loss."""

from __future__ import annotations

import math

import attrs
from torch import Tensor

from gancore import (
    ConfigError,
    CriticStepContext,
    GANModel,
    Regularizer,
    gradient_penalty,
    input_gradient_norms,
    interpolates,
    option,
)

#: what the penalty pulls the critic's gradient norm on interpolates toward
FORMS = ("two-sided", "one-sided", "zero-centred")


@attrs.define
class GradientPenalty(Regularizer):
    """gp_weight * E[(||grad D(x_hat)|| - 1)^2], x_hat uniform on segments between real and fake samples
    (estimated on the first ``gp_share`` of the batch); ``gp_form`` one-sided penalises only norms
    above 1 (WGAN-LP, Petzka et al. 2018), zero-centred pulls them to 0 (Thanh-Tung et al. 2019)."""

    name = "gp"
    gp_weight: float = option(
        10.0, help="weight (lambda) of the gradient penalty", validator=attrs.validators.ge(0)
    )
    # the double backward through the critic is most of a WGAN-GP critic step on a CPU; penalising half
    # the batch gave the conv critic about 18% more generator steps/s on the 2-core CPU (2 threads)
    gp_share: float = option(
        1.0,
        help="share of each batch whose interpolates are penalised (below 1: cheaper, noisier estimate)",
        validator=[attrs.validators.gt(0.0), attrs.validators.le(1.0)],
    )

    gp_form: str = option(
        "two-sided",
        help="two-sided: (||g|| - 1)^2 (WGAN-GP); one-sided: max(0, ||g|| - 1)^2 (WGAN-LP);"
        " zero-centred: ||g||^2",
        validator=attrs.validators.in_(FORMS),
    )

    def check(self, model: GANModel) -> None:
        if model.critic_conditional:  # an interpolate of a real and a fake has no one class to score it as
            raise ConfigError(
                f"--reg {self.name} penalises the critic between a real sample and a fake one, which a"
                " conditional critic scores as different classes; use --reg r1 (or r2) with it"
            )

    def critic_term(self, ctx: CriticStepContext) -> Tensor:
        # through model.score: the penalty constrains the critic exactly as the loss sees it (augmented)
        # the batch is shuffled and the fakes' noise is independent, so its first rows are a random subset
        rows = math.ceil(self.gp_share * ctx.real.shape[0])
        real, fake = ctx.real[:rows], ctx.fake[:rows]
        if self.gp_form == "two-sided":
            return self.gp_weight * gradient_penalty(ctx.model.score, real, fake)
        norms = input_gradient_norms(ctx.model.score, interpolates(real, fake), create_graph=True)
        pulled = (norms - 1).clamp(min=0) if self.gp_form == "one-sided" else norms
        return self.gp_weight * pulled.square().mean()
