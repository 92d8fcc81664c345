"""gancore.functional: the critic-gradient helpers every penalty uses, and the one compose."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import gancore
from gancore.functional import compose, gradient_penalty, input_gradient_norms, interpolates
from gancore.records import CriticStepContext, DataSpec, GANModel


def linear_critic(weight: list[float], bias: float = 0.3) -> nn.Linear:
    layer = nn.Linear(len(weight), 1)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([weight]))
        layer.bias.fill_(bias)
    return layer


def score_of(critic: nn.Module):
    return lambda x: critic(x).reshape(-1)


# golden values: D(x) = w.x + b has the gradient w everywhere, so every norm is ||w||


@pytest.mark.parametrize(
    ("weight", "norm", "penalty"),
    [([3.0, 4.0], 5.0, 16.0), ([0.6, 0.8], 1.0, 0.0), ([0.0, 0.5], 0.5, 0.25), ([1.0, 2.0, 2.0], 3.0, 4.0)],
)
def test_a_linear_critic_by_hand(weight, norm, penalty):
    critic = linear_critic(weight)
    real, fake = torch.randn(8, len(weight)), torch.randn(8, len(weight))
    norms = input_gradient_norms(score_of(critic), real)
    assert norms.tolist() == pytest.approx([norm] * 8, abs=1e-6)
    assert gradient_penalty(score_of(critic), real, fake).item() == pytest.approx(penalty, abs=1e-5)


def test_the_penalty_of_a_linear_critic_back_propagates_its_known_gradient():
    # P(w) = (||w|| - 1)^2, so dP/dw = 2 (||w|| - 1) w / ||w|| = 2 * 4 * [3, 4] / 5 = [4.8, 6.4]
    critic = linear_critic([3.0, 4.0])
    gradient_penalty(score_of(critic), torch.randn(8, 2), torch.randn(8, 2)).backward()
    assert critic.weight.grad.tolist() == [pytest.approx([4.8, 6.4], abs=1e-5)]
    assert critic.bias.grad is None  # a bias does not change the gradient: not in the graph at all


def test_input_gradient_norms_per_sample():
    x = torch.tensor([[1.0, 2.0], [3.0, -1.0]])
    # score = sum of squares: gradient 2x, norm 2 ||x||
    norms = input_gradient_norms(lambda t: t.square().sum(1), x)
    assert norms.tolist() == pytest.approx([2 * 5**0.5, 2 * 10**0.5])
    assert not norms.requires_grad  # without create_graph: a measurement, not a loss


def test_penalty_costs_one_critic_forward_and_leaves_no_gradient_on_inputs():
    real, fake = torch.randn(16, 2, requires_grad=True), torch.randn(16, 2, requires_grad=True)
    critic = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    calls = []
    critic.register_forward_hook(lambda module, args, out: calls.append(args[0].shape[0]))
    gradient_penalty(score_of(critic), real, fake).backward()
    assert calls == [16]  # interpolates only: no forward on real or fake
    assert real.grad is None and fake.grad is None
    assert critic[0].weight.grad.abs().sum() > 0  # the double backward reaches the critic


def test_interpolates_lie_between_real_and_fake_and_a_generator_leaves_the_global_stream():
    real, fake = torch.zeros(64, 3), torch.ones(64, 3)
    state = torch.get_rng_state()
    x = interpolates(real, fake, torch.Generator().manual_seed(0))
    assert torch.equal(torch.get_rng_state(), state)
    assert (x >= 0).all() and (x <= 1).all()
    assert (x == x[:, :1]).all()  # one eps per sample, shared by its coordinates


def test_both_penalty_plugins_compute_the_same_term():
    gan_wgan = pytest.importorskip("gan_wgan.penalty")
    gan_lsgan = pytest.importorskip("gan_lsgan.regularizers")
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
    model = GANModel(nn.Identity(), critic, None, None, 2, DataSpec((2,), "points"), torch.device("cpu"))
    real, fake = torch.randn(8, 2), torch.randn(8, 2) + 3
    ctx = CriticStepContext(model, real, torch.zeros(8, 2), fake, model.score(real), model.score(fake), 0, 0)
    torch.manual_seed(1)
    gp = gan_wgan.GradientPenalty(gp_weight=1.0).critic_term(ctx)
    torch.manual_seed(1)
    cn_gp = gan_lsgan.CNGradientPenalty(cn_gp_weight=1.0).critic_term(ctx)
    assert torch.equal(gp, cn_gp)


def test_compose_applies_left_to_right_and_none_is_the_identity():
    x = torch.tensor([1.0, 2.0])
    assert compose([lambda t: t + 1, lambda t: t * 10])(x).tolist() == [20.0, 30.0]
    assert compose(iter([lambda t: t * 10, lambda t: t + 1]))(x).tolist() == [11.0, 21.0]  # any iterable
    assert compose([])(x) is x


def test_the_helpers_are_public_api():
    for name in ("compose", "gradient_penalty", "input_gradient_norms", "interpolates"):
        assert getattr(gancore, name) is getattr(gancore.functional, name)
        assert name in gancore.__all__
