"""MH-GAN's acceptance probabilities and a short chain by hand; the sampler on 1-D cases whose density
ratio is known: exact with an exact critic, calibration undoing a scaled or over-confident critic, the
paper's restart of chains stuck at their real start, and conditional models."""

from __future__ import annotations

import math

import attrs
import pytest
import torch
from gan_drs.mh import MetropolisHastings, log_acceptance, mh_chains
from torch import nn

from gancore import ConfigError, Data, DataSpec, GANModel, Loss, Prior
from gancore.testing import Vanilla

pytestmark = pytest.mark.usefixtures("one_thread")  # from the gancore.testing pytest plugin


def logit(d: float) -> float:
    return math.log(d / (1 - d))


@pytest.mark.parametrize(
    ("d_current", "d_proposed", "alpha"),
    [
        (0.2, 0.6, 1.0),  # (1/0.2 - 1) / (1/0.6 - 1) = 4 / (2/3) = 6 -> 1
        (0.5, 0.1, 1 / 9),  # 1 / 9
        (0.9, 0.9, 1.0),  # (1/9) / (1/9)
        (0.9, 0.5, 1 / 9),  # (1/9) / 1
        (0.75, 0.25, 1 / 9),  # (1/3) / 3
    ],
)
def test_acceptance_is_the_ratio_of_the_odds_against(d_current, d_proposed, alpha):
    got = log_acceptance(torch.tensor([logit(d_current)]), torch.tensor([logit(d_proposed)])).exp()
    assert got.item() == pytest.approx(alpha, rel=1e-6)
    by_hand = min(1.0, (1 / d_current - 1) / (1 / d_proposed - 1))
    assert got.item() == pytest.approx(by_hand, rel=1e-6)


def test_acceptance_stays_exact_for_saturated_critics():
    # sigmoid(800) == 1.0 in float64: the naive (1/D - 1) ratios would be 0/0 or x/0
    current = torch.tensor([800.0, 900.0, -800.0], dtype=torch.float64)
    proposed = torch.tensor([900.0, 800.0, 800.0], dtype=torch.float64)
    assert log_acceptance(current, proposed).tolist() == [0.0, -100.0, 0.0]


def test_a_short_chain_by_hand():
    g = torch.Generator().manual_seed(0)
    # the uniforms the chain will draw, one pair per step (checked so that the hand computation holds)
    uniforms = [[0.97005, 0.70782], [0.45938, 0.92075], [0.64502, 0.79115]]
    check = torch.Generator().manual_seed(0)
    for pair in uniforms:
        assert torch.rand(2, generator=check, dtype=torch.float64).tolist() == pytest.approx(pair, abs=1e-5)
    proposals = iter(
        [
            (torch.tensor([[1.0], [2.0]]), torch.tensor([-0.5, 3.0], dtype=torch.float64)),
            (torch.tensor([[3.0], [4.0]]), torch.tensor([-0.2, 2.5], dtype=torch.float64)),
            (torch.tensor([[5.0], [6.0]]), torch.tensor([-1.0, 2.9], dtype=torch.float64)),
        ]
    )
    start_x, start_logit = torch.tensor([[10.0], [20.0]]), torch.tensor([0.0, 1.0], dtype=torch.float64)
    x, final, accepted = mh_chains(start_logit, start_x, lambda: next(proposals), 3, generator=g)
    # chain 0: step 1 alpha e^-0.5 = .61 < u .97: stay at 10; step 2 e^-0.2 = .82 > .46: move to 3;
    #          step 3 e^-0.8 = .45 < .65: stay at 3
    # chain 1: step 1 alpha 1: move to 2 (logit 3); step 2 e^-0.5 = .61 < .92: stay;
    #          step 3 e^-0.1 = .90 > .79: move to 6
    assert x.reshape(-1).tolist() == [3.0, 6.0]
    assert final.tolist() == [-0.2, 2.9]
    assert accepted.tolist() == [1, 2]


@attrs.define
class Uniform01(Prior):
    name = "test-u01"

    def sample(self, n, latent_dim, device, generator=None):
        return torch.rand(n, latent_dim, device=device, generator=generator)


class Affine(nn.Module):
    """x = 8 z - 4: U(0, 1) codes become U(-4, 4)."""

    def forward(self, z):
        return 8.0 * z - 4.0


class ScaledLogRatio(nn.Module):
    """scale * log N(x; 0, 1)/U(x; -4, 4) + shift on [-4, 4]; scale 1, shift 0 is the exact log ratio."""

    def __init__(self, scale: float = 1.0, shift: float = 0.0):
        super().__init__()
        self.scale, self.shift = scale, shift

    def forward(self, x):
        x = x.reshape(-1)
        return self.scale * (-0.5 * x**2 - 0.5 * math.log(2 * math.pi) + math.log(8.0)) + self.shift


@attrs.define
class NoLogit(Loss):
    name = "test-nologit"


def uniform_to_normal(critic: nn.Module, loss: Loss | None = None) -> tuple[GANModel, Data]:
    """G draws U(-4, 4); the data is N(0, 1) (its last 10% held out by the sampler)."""
    spec = DataSpec((1,), "points")
    model = GANModel(Affine(), critic, Uniform01(), loss or Vanilla(), 1, spec, torch.device("cpu"))
    return model, Data(torch.randn(100_000, 1), spec)


def moments(x: torch.Tensor) -> tuple[float, float]:
    x = x.reshape(-1)
    assert torch.isfinite(x).all() and x.abs().max() <= 4.0  # generated samples: never a real start
    return x.mean().item(), x.std().item()


@pytest.mark.parametrize("init", ["fake", "real"])
def test_with_an_exact_critic_the_chains_sample_the_data(init):
    torch.manual_seed(0)
    model, data = uniform_to_normal(ScaledLogRatio())
    sampler = MetropolisHastings(mh_steps=40, mh_init=init)
    sampler.prepare(model, data)
    a, b = sampler._platt  # the critic is already the log density ratio: calibration leaves it alone
    assert a == pytest.approx(1.0, abs=0.05) and b == pytest.approx(0.0, abs=0.05)
    mean, std = moments(sampler.sample(model, 5000))
    # N(0, 1) truncated at +-4; standard errors 0.014 (mean) and 0.01 (std)
    assert abs(mean) < 0.05 and std == pytest.approx(1.0, abs=0.04)
    stats = sampler.stats()
    # independent MH from U(-4, 4) to N(0, 1): about 31% of proposals accepted
    assert 0.2 < stats["acceptance_rate"] < 0.45 and stats["proposals"] >= 5000 * 40
    assert stats["calibrated"] is True


def test_calibration_undoes_an_over_confident_critic():
    # the logit 5 log p/q: uncalibrated, the chains target q (p/q)^5, about N(0, 1/5)
    torch.manual_seed(0)
    model, data = uniform_to_normal(ScaledLogRatio(scale=5.0))
    raw = MetropolisHastings(mh_steps=40, mh_init="fake", mh_calibrate=False)
    raw.prepare(model, data)
    assert moments(raw.sample(model, 3000))[1] == pytest.approx(1 / math.sqrt(5), abs=0.04)
    calibrated = MetropolisHastings(mh_steps=40)
    calibrated.prepare(model, data)
    assert calibrated._platt[0] == pytest.approx(0.2, rel=0.05)
    assert moments(calibrated.sample(model, 3000))[1] == pytest.approx(1.0, abs=0.05)


def test_a_score_that_is_no_logit_is_calibrated_into_one():
    torch.manual_seed(0)
    model, data = uniform_to_normal(ScaledLogRatio(scale=3.0, shift=1.0), NoLogit())
    sampler = MetropolisHastings(mh_steps=40)
    sampler.prepare(model, data)
    a, b = sampler._platt
    assert a == pytest.approx(1 / 3, rel=0.05) and b == pytest.approx(-1 / 3, abs=0.1)  # undoes 3s + 1
    mean, std = moments(sampler.sample(model, 3000))
    assert abs(mean) < 0.06 and std == pytest.approx(1.0, abs=0.05)


def test_chains_stuck_at_their_real_start_restart_from_a_generated_sample():
    torch.manual_seed(0)
    model, data = uniform_to_normal(ScaledLogRatio())
    sampler = MetropolisHastings(mh_steps=10)
    sampler.prepare(model, data)
    sampler._starts = torch.full_like(sampler._starts, 1e3)  # real starts no proposal can beat
    x = sampler.sample(model, 500)
    assert sampler.stats()["restarted"] == 1.0
    _, std = moments(x)  # the restarted chains' samples: generated, and pulled toward N(0, 1)
    assert std < 1.6  # U(-4, 4) has std 2.3; ten steps from a generated start get close to 1


def test_sampling_without_prepare_needs_data_unless_told_otherwise():
    model, _ = uniform_to_normal(ScaledLogRatio())
    with pytest.raises(ConfigError, match="prepare"):
        MetropolisHastings().sample(model, 10)
    x = MetropolisHastings(mh_steps=5, mh_init="fake", mh_calibrate=False).sample(model, 10)
    assert x.shape == (10, 1)
    no_logit, _ = uniform_to_normal(ScaledLogRatio(), NoLogit())
    with pytest.raises(ConfigError, match="no logit"):
        MetropolisHastings(mh_init="fake", mh_calibrate=False).sample(no_logit, 10)


def test_a_bad_init_is_refused():
    with pytest.raises(ValueError):
        MetropolisHastings(mh_init="middle")
