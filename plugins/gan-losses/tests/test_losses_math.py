"""The hinge, RaGAN and RaLSGAN losses against values computed by hand from fixed outputs."""

from __future__ import annotations

import math

import pytest
import torch
from gan_losses.hinge import Hinge
from gan_losses.relativistic import RaGAN, RaLSGAN
from torch import nn

from gancore import DataSpec, GANModel

REAL = [1.5, -0.5, 0.25]  # mean 5/12
FAKE = [-1.0, 0.5, -2.0]  # mean -5/6


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_hinge_by_hand():
    real, fake = torch.tensor(REAL), torch.tensor(FAKE)
    # relu(1 - real) = 0, 1.5, 0.75 -> mean 0.75; relu(1 + fake) = 0, 1.5, 0 -> mean 0.5
    assert Hinge().critic_loss(real, fake).item() == pytest.approx(1.25)
    assert Hinge().generator_loss(fake).item() == pytest.approx(2.5 / 3)
    # inside the margin: real 2 of 3 (-0.5, 0.25), fake 1 of 3 (0.5)
    assert Hinge().diagnostics(real, fake)["in_margin"].item() == pytest.approx(0.5)


def test_hinge_per_sample_values_average_to_the_loss():
    # --loss-per-sample (what gan-topk's weighting recommends): sample i's terms, the same mean
    real, fake = torch.tensor(REAL), torch.tensor(FAKE)
    per_sample = Hinge(loss_per_sample=True)
    assert per_sample.per_sample and not Hinge().per_sample
    assert per_sample.critic_loss(real, fake).tolist() == pytest.approx([0.0, 3.0, 0.75])
    assert per_sample.generator_loss(fake).tolist() == pytest.approx([1.0, -0.5, 2.0])


def test_hinge_gives_no_gradient_beyond_the_margin():
    real = torch.tensor([2.0, 3.0], requires_grad=True)
    fake = torch.tensor([-1.5, 0.0], requires_grad=True)
    Hinge().critic_loss(real, fake).backward()
    assert real.grad.tolist() == [0.0, 0.0]  # both beyond +1: the critic leaves them alone
    assert fake.grad.tolist() == [0.0, 0.5]  # -1.5 is beyond -1; 0 is pushed down (1/n)


# relative outputs: d_real = real - (-5/6), d_fake = fake - 5/12
D_REAL = [r + 5 / 6 for r in REAL]
D_FAKE = [f - 5 / 12 for f in FAKE]


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def test_ragan_by_hand():
    real, fake = torch.tensor(REAL, dtype=torch.float64), torch.tensor(FAKE, dtype=torch.float64)
    critic = mean(softplus(-d) for d in D_REAL) + mean(softplus(d) for d in D_FAKE)
    generator = mean(softplus(-d) for d in D_FAKE) + mean(softplus(d) for d in D_REAL)
    assert RaGAN().critic_loss(real, fake).item() == pytest.approx(critic, rel=1e-12)
    assert RaGAN().generator_loss(fake, real).item() == pytest.approx(generator, rel=1e-12)
    assert critic == pytest.approx(0.6542225098, rel=1e-9)  # the numbers themselves, once
    # softplus(x) - softplus(-x) = x, so the two differ by mean(d_real) - mean(d_fake) = 2 (5/12 + 5/6)
    assert generator - critic == pytest.approx(2.5, rel=1e-12)


def test_ralsgan_by_hand():
    real, fake = torch.tensor(REAL, dtype=torch.float64), torch.tensor(FAKE, dtype=torch.float64)
    critic = mean((d - 1) ** 2 for d in D_REAL) + mean((d + 1) ** 2 for d in D_FAKE)
    generator = mean((d - 1) ** 2 for d in D_FAKE) + mean((d + 1) ** 2 for d in D_REAL)
    assert RaLSGAN().critic_loss(real, fake).item() == pytest.approx(critic, rel=1e-12)
    assert RaLSGAN().generator_loss(fake, real).item() == pytest.approx(generator, rel=1e-12)
    # d_real = 7/3, 1/3, 13/12; d_fake = -17/12, 1/12, -29/12
    assert critic == pytest.approx((16 / 9 + 4 / 9 + 1 / 144) / 3 + (25 + 169 + 289) / 144 / 3)  # 67/36
    assert critic == pytest.approx(67 / 36) and generator == pytest.approx(427 / 36)


@pytest.mark.parametrize("cls", [RaGAN, RaLSGAN])
def test_relativistic_losses_are_shift_invariant_and_ask_for_the_real_outputs(cls):
    real, fake = torch.tensor(REAL), torch.tensor(FAKE)
    # only differences of outputs enter: adding a constant to the critic changes nothing
    assert cls().critic_loss(real + 7, fake + 7).item() == pytest.approx(cls().critic_loss(real, fake).item())
    shifted = cls().generator_loss(fake + 7, real + 7).item()
    assert shifted == pytest.approx(cls().generator_loss(fake, real).item())
    assert cls().diagnostics(real, fake)["real_minus_fake"].item() == pytest.approx(5 / 12 + 5 / 6)
    assert cls.needs_real_out


def test_ragan_is_exact_for_large_outputs():
    real, fake = torch.tensor([100.0, -100.0]), torch.tensor([-100.0, 100.0])
    assert math.isfinite(RaGAN().critic_loss(real, fake).item())
    # mean 0 on both sides: d = outputs; softplus(-100) ~ 0, softplus(100) = 100 -> 50 + 50
    assert RaGAN().critic_loss(real, fake).item() == pytest.approx(100.0)


def linear_model(loss) -> GANModel:
    critic = nn.Linear(1, 1, bias=False)
    nn.init.constant_(critic.weight, 2.0)  # D(x) = 2x
    return GANModel(nn.Identity(), critic, None, loss, 1, DataSpec((1,), "points"), torch.device("cpu"))


def test_the_generator_loss_pushes_every_fake_toward_higher_scores():
    model = linear_model(RaGAN())
    real = torch.tensor([[0.75], [-0.25], [0.125]])  # D(real) = REAL
    fake = torch.tensor([[-0.5], [0.25], [-1.0]], requires_grad=True)  # D(fake) = FAKE
    loss = RaGAN().generator_loss(model.score(fake), model.score(real).detach())
    expected = mean(softplus(-d) for d in D_FAKE) + mean(softplus(d) for d in D_REAL)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    assert fake.grad is not None and (fake.grad < 0).all()
