"""The vanilla loss against values computed by hand from the textbook formulas."""

import math

import pytest
import torch

from gancore.builtin.losses import Vanilla


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


REAL = [2.0, -1.0, 0.0]
FAKE = [0.5, -3.0, 1.5]


def mean(values):
    return sum(values) / len(values)


def test_critic_loss_is_binary_cross_entropy():
    expected = mean([-math.log(sigmoid(r)) for r in REAL]) + mean([-math.log(1 - sigmoid(f)) for f in FAKE])
    got = Vanilla().critic_loss(torch.tensor(REAL), torch.tensor(FAKE))
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_non_saturating_generator_loss():
    expected = mean([-math.log(sigmoid(f)) for f in FAKE])
    assert Vanilla().generator_loss(torch.tensor(FAKE)).item() == pytest.approx(expected, rel=1e-6)


def test_saturating_generator_loss_is_log_one_minus_d():
    expected = mean([math.log(1 - sigmoid(f)) for f in FAKE])
    got = Vanilla(saturating=True).generator_loss(torch.tensor(FAKE))
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_extreme_logits_stay_finite_and_exact():
    # log(sigmoid(-200)) underflows to -inf in the naive form; softplus keeps it at -200
    loss = Vanilla().critic_loss(torch.tensor([-200.0]), torch.tensor([200.0]))
    assert loss.item() == pytest.approx(400.0)
    assert Vanilla().generator_loss(torch.tensor([-200.0])).item() == pytest.approx(200.0)


def test_gradients_match_closed_form():
    # d/df softplus(-f) = -(1 - sigmoid(f))
    fake = torch.tensor(FAKE, requires_grad=True)
    Vanilla().generator_loss(fake).backward()
    expected = [-(1 - sigmoid(f)) / len(FAKE) for f in FAKE]
    assert fake.grad.tolist() == pytest.approx(expected, rel=1e-6)
