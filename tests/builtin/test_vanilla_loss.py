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


@pytest.mark.parametrize("saturating", [False, True])
def test_per_sample_values_average_to_the_loss(saturating):
    # --loss-per-sample (what gan-topk's weighting recommends): one value per sample, the same mean
    real, fake = torch.tensor(REAL), torch.tensor(FAKE)
    per_sample = Vanilla(saturating=saturating, loss_per_sample=True)
    assert per_sample.per_sample and not Vanilla().per_sample
    critic = per_sample.critic_loss(real, fake)
    expected = [-math.log(sigmoid(r)) - math.log(1 - sigmoid(f)) for r, f in zip(REAL, FAKE, strict=True)]
    assert critic.tolist() == pytest.approx(expected, rel=1e-6)
    assert critic.mean().item() == pytest.approx(Vanilla().critic_loss(real, fake).item(), rel=1e-6)
    generator = per_sample.generator_loss(fake)
    assert generator.shape == (3,)
    plain = Vanilla(saturating=saturating).generator_loss(fake).item()
    assert generator.mean().item() == pytest.approx(plain, rel=1e-6)
