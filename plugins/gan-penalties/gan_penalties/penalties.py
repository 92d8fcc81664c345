"""The zero-centred gradient penalties R1 and R2: Mescheder, Geiger & Nowozin, *Which Training Methods
for GANs do actually Converge?* (ICML 2018).

    R1 = r1_gamma / 2 * E_P[ ||grad_x D(x)||^2 ]      (on real data)
    R2 = r2_gamma / 2 * E_Q[ ||grad_x D(x)||^2 ]      (on generated data)

Near a generator that matches the data, a critic with zero gradient on the data is an equilibrium;
penalising the gradient there (rather than pushing its norm to 1, as WGAN-GP does on interpolates)
makes training converge locally where unregularized and WGAN-GP training can circle it. R1 is the
penalty StyleGAN, StyleGAN2 and most image GANs since use (γ = 10 in the paper's experiments).

Both differentiate the critic as the adversarial loss sees it (``model.score``, after any
``--augment``), through gancore's ``input_gradient_norms`` with ``create_graph=True``: one extra
critic forward on the batch and a gradient with respect to the inputs only.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import attrs
from torch import Tensor

from gan_penalties.lazy import LazySchedule
from gancore import (
    ConfigError,
    CriticStepContext,
    GANModel,
    GeneratorStepContext,
    Regularizer,
    input_gradient_norms,
    option,
)

_non_negative = attrs.validators.ge(0.0)
_at_least_one = attrs.validators.ge(1)


def refuse_weight_constraint(flag: str, model: GANModel) -> None:
    """A hard constraint on the weights caps the critic's gradient itself: the penalty has no say."""
    if model.critic_constraint:
        raise ConfigError(
            f"--reg {flag} penalises the critic's input gradient, which the critic step's"
            f" {model.critic_constraint} already caps; drop --clip-value (or use --spectral-norm)"
        )


def squared_gradient_norm(score: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """E[||grad_x score(x)||^2] over the batch, differentiable with respect to the critic's weights."""
    return input_gradient_norms(score, x, create_graph=True).square().mean()


@attrs.define
class R1(Regularizer):
    """R1 (Mescheder et al. 2018): r1_gamma/2 * E_P[||grad D(x)||^2]; lazy every r1_every iterations."""

    name = "r1"
    r1_gamma: float = option(
        10.0, help="weight γ of the R1 penalty (γ/2 E||∇D(x_real)||²)", validator=_non_negative
    )
    r1_every: int = option(
        1,
        help="apply R1 on one iteration in k, weighted k times (StyleGAN2's lazy R1 uses 16; 1: every step)",
        validator=_at_least_one,
    )
    _schedule: LazySchedule = attrs.field(factory=LazySchedule, init=False)

    def check(self, model: GANModel) -> None:
        refuse_weight_constraint(self.name, model)

    def critic_term(self, ctx: CriticStepContext) -> Tensor:
        # a conditional critic is differentiated as it scores each sample: with its class
        score = partial(ctx.model.score, labels=ctx.real_labels)
        term = self.r1_gamma / 2 * squared_gradient_norm(score, ctx.real)
        if self.r1_every == 1:  # an option (fixed within an epoch), not a branch on the step or a value
            self._schedule.tick(ctx.step, ctx.real.device)  # keeps counting: --schedule may raise r1_every
            return term  # the plain penalty itself
        return term * self._schedule.gate(self.r1_every, ctx.step, ctx.real.device)

    def generator_term(self, ctx: GeneratorStepContext) -> None:
        self._schedule.end_iteration()  # adds no term: it only marks the end of the iteration
        return None


@attrs.define
class R2(Regularizer):
    """R2 (Mescheder et al. 2018): r2_gamma/2 * E_Q[||grad D(x)||^2] on the generated batch."""

    name = "r2"
    r2_gamma: float = option(
        10.0, help="weight γ of the R2 penalty (γ/2 E||∇D(x_fake)||²)", validator=_non_negative
    )

    def check(self, model: GANModel) -> None:
        refuse_weight_constraint(self.name, model)

    def critic_term(self, ctx: CriticStepContext) -> Tensor:
        score = partial(ctx.model.score, labels=ctx.fake_labels)
        return self.r2_gamma / 2 * squared_gradient_norm(score, ctx.fake)
