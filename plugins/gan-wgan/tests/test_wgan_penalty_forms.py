"""The gradient penalty's three forms against values computed by hand: a linear critic D(x) = w.x has
the gradient norm |w| at every interpolate, so each form is a number known in advance."""

from __future__ import annotations

import pytest
import torch
from gan_wgan.penalty import GradientPenalty
from torch import nn

from gancore import CriticStepContext, DataSpec, GANModel


def linear_critic(norm: float) -> nn.Module:
    critic = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[0.6 * norm, 0.8 * norm]]))  # |w| = norm
    return critic


def ctx_for(critic: nn.Module) -> CriticStepContext:
    real, fake = torch.randn(6, 2), torch.randn(6, 2)
    model = GANModel(nn.Identity(), critic, None, None, 2, DataSpec((2,), "points"), torch.device("cpu"))
    return CriticStepContext(model, real, torch.zeros(6, 2), fake, critic(real), critic(fake), 0, 0)


@pytest.mark.parametrize(
    ("norm", "form", "expected"),
    [
        (0.5, "two-sided", 0.25),  # (0.5 - 1)^2
        (0.5, "one-sided", 0.0),  # norms under 1 are free
        (0.5, "zero-centred", 0.25),  # 0.5^2
        (2.0, "two-sided", 1.0),
        (2.0, "one-sided", 1.0),
        (2.0, "zero-centred", 4.0),
    ],
)
def test_each_form_by_hand(norm: float, form: str, expected: float) -> None:
    penalty = GradientPenalty(gp_weight=3.0, gp_form=form).critic_term(ctx_for(linear_critic(norm)))
    assert penalty.item() == pytest.approx(3.0 * expected, rel=1e-5)


def test_an_unknown_form_is_refused() -> None:
    with pytest.raises(ValueError, match="gp_form"):
        GradientPenalty(gp_form="sideways")


def test_the_penalty_trains_the_critic_toward_its_form() -> None:
    # one gradient step on the penalty alone moves |w| toward 1 (two-sided) or 0 (zero-centred)
    cases = (("two-sided", 2.0, 1.0), ("zero-centred", 2.0, 0.0), ("one-sided", 0.5, None))
    for form, start, moves_to in cases:
        critic = linear_critic(start)
        GradientPenalty(gp_form=form).critic_term(ctx_for(critic)).backward()
        if moves_to is None:  # nothing to pull: no gradient at all
            assert critic.weight.grad.abs().max().item() == 0.0
        else:
            after = (critic.weight - 0.01 * critic.weight.grad).norm().item()
            assert abs(after - moves_to) < abs(start - moves_to)
