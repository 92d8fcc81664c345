"""DRS on a 1D case with a known density ratio; threshold and interp on hand-made models."""

from __future__ import annotations

import math

import attrs
import pytest
import torch
from gan_drs.drs import DiscriminatorRejection, acceptance_scores
from gan_drs.simple import Interpolation, Threshold
from torch import nn

from gancore import ConfigError, Data, DataSpec, GANModel, Loss, Prior
from gancore.testing import Vanilla, gan

pytestmark = pytest.mark.usefixtures("one_thread")  # from the gancore.testing pytest plugin


@attrs.define
class Uniform01(Prior):
    name = "test-u01"

    def sample(self, n, latent_dim, device, generator=None):
        return torch.rand(n, latent_dim, device=device, generator=generator)


@attrs.define
class ZeroOne(Prior):
    """Each coordinate 0 or 1 with probability 1/2."""

    name = "test-01"

    def sample(self, n, latent_dim, device, generator=None):
        return torch.randint(2, (n, latent_dim), device=device, generator=generator).float()


class Affine(nn.Module):
    """x = scale * z + shift: U(0, 1) codes become U(shift, shift + scale)."""

    def __init__(self, scale: float = 1.0, shift: float = 0.0):
        super().__init__()
        self.scale, self.shift = scale, shift

    def forward(self, z):
        return self.scale * z + self.shift


class NormalOverUniform(nn.Module):
    """The exact log density ratio log N(x; 0, 1) - log U(x; -4, 4) on [-4, 4]."""

    def forward(self, x):
        x = x.reshape(-1)
        return -0.5 * x**2 - 0.5 * math.log(2 * math.pi) + math.log(8.0)


class Identity(nn.Module):
    def forward(self, x):
        return x.reshape(-1)


@attrs.define
class NoLogit(Loss):
    name = "test-nologit"


def model_1d(generator, critic, prior=None, loss=None) -> GANModel:
    return GANModel(generator, critic, prior or Uniform01(), loss or Vanilla(), 1, DataSpec((1,), "points"),
                    torch.device("cpu"))  # fmt: skip


def uniform_vs_normal() -> GANModel:
    return model_1d(Affine(8.0, -4.0), NormalOverUniform())


N = 20_000
# P(|X| < 4) * sqrt(2 pi) / 8: the acceptance rate of exact rejection sampling of N(0, 1) from U(-4, 4)
EXACT_RATE = math.erf(4 / math.sqrt(2)) * math.sqrt(2 * math.pi) / 8


def test_acceptance_scores_is_the_logit_of_the_ratio():
    # sigmoid(d - log(1 - exp(d))) = exp(d): with gamma = 0 and eps -> 0, DRS accepts with p / (M q)
    d = torch.tensor([-30.0, -5.0, -1.0, -1e-3])
    f = acceptance_scores(d + 2.0, max_logit=2.0, eps=1e-12)
    assert f.dtype == torch.float64
    assert torch.allclose(torch.sigmoid(f), d.double().exp(), rtol=1e-6)


def test_drs_with_gamma_zero_is_exact_rejection_sampling():
    torch.manual_seed(0)
    model, sampler = uniform_vs_normal(), DiscriminatorRejection(drs_gamma="0", drs_eps=1e-9)
    sampler.prepare(model, None)
    assert sampler.max_logit == pytest.approx(math.log(8 / math.sqrt(2 * math.pi)), abs=1e-4)
    x = sampler.sample(model, N).reshape(-1)
    assert x.shape == (N,)
    # N(0, 1) truncated at +-4 (std 0.9993); standard errors 1/sqrt(N) = 0.007 and 1/sqrt(2N) = 0.005
    assert abs(x.mean().item()) < 0.03
    assert x.std().item() == pytest.approx(1.0, abs=0.025)
    assert sampler.acceptance_rate == pytest.approx(EXACT_RATE, abs=0.01)
    assert sampler.stats()["candidates"] >= N / EXACT_RATE * 0.95


def test_drs_with_the_papers_gamma_is_sharper_than_the_target():
    torch.manual_seed(0)
    model, sampler = uniform_vs_normal(), DiscriminatorRejection(drs_gamma="p95")  # 95th percentile of F
    sampler.prepare(model, None)
    x = sampler.sample(model, 5000).reshape(-1)
    assert abs(x.mean().item()) < 0.05
    assert x.std().item() < 0.8
    assert 0.0 < sampler.acceptance_rate < EXACT_RATE  # reported, and lower than exact rejection's


def test_drs_with_the_default_gamma_keeps_half_and_stops_short_of_the_target():
    torch.manual_seed(0)
    model, sampler = uniform_vs_normal(), DiscriminatorRejection()  # gamma = the median of F per batch
    sampler.prepare(model, None)
    x = sampler.sample(model, 5000).reshape(-1)
    assert sampler.acceptance_rate == pytest.approx(0.5, abs=0.02)  # sigmoid(F - median F), averaged
    # U(-4, 4) has std 8 / sqrt(12) = 2.31 and the target 1: a milder correction than p95's, in between
    assert 1.1 < x.std().item() < 8 / math.sqrt(12) - 0.5
    assert abs(x.mean().item()) < 0.05


def test_drs_updates_the_maximum_when_a_larger_logit_appears():
    torch.manual_seed(0)
    model, sampler = uniform_vs_normal(), DiscriminatorRejection(drs_gamma="0")
    sampler.prepare(model, None)
    sampler.max_logit = -10.0  # as if the burn-in had been unlucky
    sampler.sample(model, 100)
    assert sampler.max_logit == pytest.approx(math.log(8 / math.sqrt(2 * math.pi)), abs=1e-3)


class ScaledRatio(nn.Module):
    """A score that is no logit: 3 * log N(x; 0, 1)/U(x; -4, 4) + 1."""

    def forward(self, x):
        return 3.0 * NormalOverUniform()(x) + 1.0


def test_drs_calibrates_a_critic_that_is_no_logit():
    torch.manual_seed(0)
    model = model_1d(Affine(8.0, -4.0), ScaledRatio(), loss=NoLogit())
    real = torch.randn(100_000, 1)  # the target N(0, 1); DRS holds out the last 10% to calibrate on
    sampler = DiscriminatorRejection(drs_gamma="0", drs_eps=1e-9)
    sampler.prepare(model, Data(real, DataSpec((1,), "points")))
    a, b = sampler._platt
    assert a == pytest.approx(1 / 3, rel=0.05) and b == pytest.approx(-1 / 3, abs=0.1)  # undoes 3s + 1
    x = sampler.sample(model, 5000).reshape(-1)
    assert sampler.stats()["calibrated"] is True
    assert abs(x.mean().item()) < 0.06 and x.std().item() == pytest.approx(1.0, abs=0.05)


def test_drs_without_prepare_needs_a_logit():
    model = model_1d(Affine(8.0, -4.0), NormalOverUniform(), loss=NoLogit())
    with pytest.raises(ConfigError, match=r"loss 'test-nologit' is no logit.*prepare"):
        DiscriminatorRejection().sample(model, 10)


def test_drs_gives_up_when_it_accepts_almost_nothing():
    torch.manual_seed(0)
    model = uniform_vs_normal()
    sampler = DiscriminatorRejection(drs_gamma="30", drs_min_acceptance=0.01)  # sigmoid(F - 30) ~ 1e-13
    sampler.prepare(model, None)
    with pytest.raises(ConfigError, match=r"accepted 0 of 10000 candidates \(rate 0"):
        sampler.sample(model, 100)


def test_drs_rejects_a_bad_gamma():
    with pytest.raises(ConfigError, match="--drs-gamma 'p150'"):
        DiscriminatorRejection(drs_gamma="p150")


def test_drs_keep_training_leaves_the_runs_critic_alone():
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1))
    before = [p.detach().clone() for p in critic.parameters()]
    model = model_1d(Affine(8.0, -4.0), critic)
    data = Data(torch.randn(1000, 1), DataSpec((1,), "points"))
    sampler = DiscriminatorRejection(drs_keep_training=200, drs_lr=1e-2, drs_burn_in=2000)
    sampler.prepare(model, data)
    assert all(torch.equal(a, b) for a, b in zip(before, critic.parameters(), strict=True))
    trained = sampler._critic
    assert trained is not critic
    # trained on N(0, 1) real vs U(-4, 4) fake: the logit now prefers the centre to the edges
    logits = trained(torch.tensor([[0.0], [3.5], [-3.5]])).reshape(-1)
    assert logits[0] > logits[1] + 1 and logits[0] > logits[2] + 1


def test_logistic_keep_training_learns_the_log_density_ratio_of_a_score_critic():
    # a loss with no logit (as WGAN's): the logistic objective turns its critic into log p/q, here
    # log N(x; 0, 1) - log U(x; -4, 4), which Platt scaling then finds affine already (a = 1, b = 0)
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 1))
    model = model_1d(Affine(8.0, -4.0), critic, loss=NoLogit())
    data = Data(torch.randn(100_000, 1), DataSpec((1,), "points"))
    sampler = DiscriminatorRejection(
        drs_keep_training=1500,
        drs_lr=3e-3,
        drs_batch_size=256,
        drs_keep_objective="logistic",
        drs_burn_in=2000,
    )
    sampler.prepare(model, data)
    x = torch.linspace(-2.0, 2.0, 9).reshape(-1, 1)
    with torch.no_grad():
        learned = sampler._critic(x).reshape(-1)
    exact = NormalOverUniform()(x)
    assert (learned - exact).abs().max().item() < 0.25, (learned, exact)
    a, b = sampler._platt
    assert a == pytest.approx(1.0, abs=0.15) and b == pytest.approx(0.0, abs=0.15)


def test_drs_rejects_an_unknown_keep_objective():
    with pytest.raises(ValueError, match="drs_keep_objective"):
        DiscriminatorRejection(drs_keep_objective="hinge")


@pytest.mark.parametrize(
    ("flags", "line"),
    [
        (
            ("--drs-keep-objective", "hinge"),
            "error: sampler 'drs': 'drs_keep_objective' must be in ('run', 'logistic') (got 'hinge')",
        ),
        (("--drs-gamma", "p150"), "error: --drs-gamma 'p150': give pNN"),
    ],
)  # fmt: skip
def test_a_bad_drs_option_is_one_line_naming_it(tmp_path, flags, line):
    # attrs' in_ validator raises ValueError(message, attribute, choices, value): the line is the message
    run = tmp_path / "r"
    code, output = gan("run", "--dataset", "ring8", "--sampler", "drs", "--steps", "1", *flags, "--out", run)
    assert code == 2 and output.startswith(line) and len(output.strip().splitlines()) == 1, output
    assert not run.exists()


def test_threshold_keeps_the_critics_favourites_with_any_loss():
    torch.manual_seed(0)
    model = model_1d(Affine(8.0, -4.0), Identity(), loss=NoLogit())  # score = x, no logit needed
    x = Threshold(threshold_quantile=0.75).sample(model, 3000, batch_size=1000).reshape(-1)
    assert x.shape == (3000,)
    assert x.min().item() > 1.5  # the top quarter of U(-4, 4) is (2, 4); batch quantiles wobble a little
    assert x.mean().item() == pytest.approx(3.0, abs=0.1)
    odd = Threshold().sample(model, 7, batch_size=1000).reshape(-1)
    assert odd.shape == (7,)


def test_interp_mixes_two_codes_with_a_uniform_weight():
    torch.manual_seed(0)
    model = model_1d(Affine(), Identity(), prior=ZeroOne())
    x = Interpolation().sample(model, 4000, batch_size=1000).reshape(-1)
    assert x.shape == (4000,)
    assert x.min().item() >= 0.0 and x.max().item() <= 1.0
    inside = x[(x > 0) & (x < 1)]
    # z1 != z2 half of the time, and then x = a or 1 - a is uniform on (0, 1)
    assert len(inside) / len(x) == pytest.approx(0.5, abs=0.04)
    assert inside.mean().item() == pytest.approx(0.5, abs=0.03)


def test_gan_sample_reports_the_acceptance_rate(tmp_path):
    from gancore.testing import gan, train

    train(tmp_path / "run", "--sampler", "drs", "--steps", "50")
    code, output = gan("sample", tmp_path / "run", "-n", "200", "--out", tmp_path / "s.npz")
    assert code == 0, output
    rate = float(output.split("acceptance_rate ")[1].split(",")[0])
    assert 0 < rate <= 1
