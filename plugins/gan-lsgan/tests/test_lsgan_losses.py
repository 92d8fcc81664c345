"""LSGAN and cn-lsgan against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch
from gan_lsgan.losses import CNLSGAN, LSGAN
from gan_lsgan.regularizers import CNGradientPenalty, CNL2Pull
from torch import nn

from gancore import CriticStepContext, DataSpec, GANModel, GeneratorStepContext
from gancore.testing import resolve_config

REAL = [1.5, -0.5, 0.25]
FAKE = [-1.0, 0.5, -2.0]


@pytest.mark.parametrize("cls", [LSGAN, CNLSGAN])
def test_losses_by_hand(cls):
    real, fake = torch.tensor(REAL), torch.tensor(FAKE)
    # 1/2 mean((r - 1)^2) + 1/2 mean((f - 0)^2) = 1/2 (0.25 + 2.25 + 0.5625)/3 + 1/2 (1 + 0.25 + 4)/3
    expected_d = 0.5 * (0.25 + 2.25 + 0.5625) / 3 + 0.5 * (1 + 0.25 + 4) / 3
    assert cls().critic_loss(real, fake).item() == pytest.approx(expected_d)
    # 1/2 mean((f - 1)^2) = 1/2 (4 + 0.25 + 9)/3
    assert cls().generator_loss(fake).item() == pytest.approx(0.5 * 13.25 / 3)
    assert cls().threshold == 0.5


def test_targets_are_options():
    loss = LSGAN(ls_a=-1.0, ls_b=1.0, ls_c=0.0)
    real, fake = torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 2.0])
    assert loss.critic_loss(real, fake).item() == pytest.approx(0.5 * 0.5 + 0.5 * 4.5)
    assert loss.generator_loss(fake).item() == pytest.approx(0.5 * (1 + 4) / 2)
    assert loss.threshold == 0.0


def test_logit_reads_the_optimal_critic_as_a_density_ratio():
    # D* = (b p + a q) / (p + q) = p / (p + q) for a = 0, b = 1
    p, q = torch.tensor([0.5, 0.2, 0.1]), torch.tensor([0.1, 0.2, 0.6])
    logit = LSGAN().logit(p / (p + q))
    assert logit.tolist() == pytest.approx((p / q).log().tolist(), rel=1e-5)
    assert torch.isfinite(LSGAN().logit(torch.tensor([-3.0, 0.0, 1.0, 7.0]))).all()


def test_cn_lsgan_recommends_both_terms():
    config = resolve_config({"loss": "cn-lsgan"}, {})
    assert config.regs == ("cn-gp", "cn-l2")
    assert config.options["cn_gp_weight"] == 0.01 and config.options["cn_l2_weight"] == 0.001
    assert resolve_config({"loss": "lsgan"}, {}).regs == ()


def model_of(critic: nn.Module, dim: int) -> GANModel:
    return GANModel(nn.Identity(), critic, None, None, 2, DataSpec((dim,), "points"), torch.device("cpu"))


def linear_critic(weight: list[float]) -> nn.Module:
    layer = nn.Linear(len(weight), 1)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([weight]))
    return layer


@pytest.mark.parametrize(
    ("weight", "expected"), [([0.6, 0.8], 0.0), ([1.2, 1.6], 0.01 * 1.0), ([0.0, 3.0], 0.04)]
)
def test_cn_gradient_penalty_of_a_linear_critic(weight, expected):
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    model = model_of(linear_critic(weight), 2)
    ctx = CriticStepContext(model, real, torch.zeros(8, 2), fake, model.score(real), model.score(fake), 0, 0)
    assert CNGradientPenalty().critic_term(ctx).item() == pytest.approx(expected, abs=1e-9)


def test_cn_gradient_penalty_is_positive_for_a_nonlinear_critic():
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
    real, fake = torch.randn(8, 2), torch.randn(8, 2) + 3
    model = model_of(critic, 2)
    ctx = CriticStepContext(model, real, torch.zeros(8, 2), fake, model.score(real), model.score(fake), 0, 0)
    term = CNGradientPenalty(cn_gp_weight=1.0).critic_term(ctx)
    assert term.item() > 1e-3
    term.backward()
    assert critic[0].weight.grad is not None and critic[0].weight.grad.abs().sum() > 0


def test_cn_l2_pull_by_hand_and_it_reaches_the_generator():
    real = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    fake = torch.tensor([[0.0, 0.0], [3.0, -4.0]], requires_grad=True)
    model = model_of(nn.Linear(2, 1), 2)
    ctx = GeneratorStepContext(model, real, torch.zeros(2, 2), fake, model.score(fake), 0, 0)
    term = CNL2Pull().generator_term(ctx)
    # 0.001 * mean(||f - r||^2) = 0.001 * (5 + 25) / 2
    assert term.item() == pytest.approx(0.001 * 15)
    term.backward()
    assert torch.allclose(fake.grad, 0.001 * (fake.detach() - real))  # d/df of 0.001 * sum / 2
    assert CNL2Pull().critic_term(None) is None and CNGradientPenalty().generator_term(None) is None


def test_large_outputs_stay_finite():
    loss = LSGAN()
    assert math.isfinite(loss.critic_loss(torch.tensor([1e6]), torch.tensor([-1e6])).item())


def test_sigmoid_reading_by_hand():
    # --ls-sigmoid: the squares are taken on D = sigmoid(out), as the reports' discriminator gave it
    real, fake = torch.tensor([0.0, math.log(3.0)]), torch.tensor([0.0, -math.log(3.0)])
    # sigmoid: real (0.5, 0.75), fake (0.5, 0.25)
    loss = LSGAN(ls_sigmoid=True)
    expected_d = 0.5 * (0.25 + 0.0625) / 2 + 0.5 * (0.25 + 0.0625) / 2
    assert loss.critic_loss(real, fake).item() == pytest.approx(expected_d)
    assert loss.generator_loss(fake).item() == pytest.approx(0.5 * (0.25 + 0.5625) / 2)
    assert loss.threshold == pytest.approx(0.0)  # D > 1/2 is an output > 0
    # bounded: a huge score costs at most 1/2 per term, never 1e12
    assert loss.critic_loss(torch.tensor([-1e6]), torch.tensor([1e6])).item() == pytest.approx(1.0)
    # the optimal D = p / (p + q) is sigmoid(log p/q): the logit reads the output back unchanged
    out = torch.tensor([-2.0, 0.0, 1.5])
    assert loss.logit(out).tolist() == pytest.approx(out.tolist(), abs=1e-5)
