"""The f-GAN losses against the paper's formulas evaluated by hand, the Fenchel identity at the
threshold, and the closed-form divergence of two known discrete distributions."""

from __future__ import annotations

import math

import pytest
import torch
from gan_fgan import divergences
from gan_fgan.losses import LOSSES, FGANLoss

REAL = [1.5, -0.5, 0.25]
FAKE = [-1.0, 0.5, -2.0]


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


# Table 2 of Nowozin et al. 2016 in the naive form, evaluated with floats: (g_f, f*)
TABLE = {
    "fgan-gan": (lambda v: -math.log(1 + math.exp(-v)), lambda t: -math.log(1 - math.exp(t))),
    "fgan-js": (
        lambda v: math.log(2) - math.log(1 + math.exp(-v)),
        lambda t: -math.log(2 - math.exp(t)),
    ),
    "fgan-kl": (lambda v: v, lambda t: math.exp(t - 1)),
    "fgan-rkl": (lambda v: -math.exp(-v), lambda t: -1 - math.log(-t)),
    "fgan-pearson": (lambda v: v, lambda t: t * t / 4 + t),
    "fgan-hellinger": (lambda v: 1 - math.exp(-v), lambda t: t / (1 - t)),
    "fgan-tv": (lambda v: 0.5 * math.tanh(v), lambda t: t),
}
F_PRIME_1 = {  # the table's f'(1)
    "fgan-gan": -math.log(2),
    "fgan-js": 0.0,
    "fgan-kl": 1.0,
    "fgan-rkl": -1.0,
    "fgan-pearson": 0.0,
    "fgan-hellinger": 0.0,
    "fgan-tv": 0.0,
}
BY_NAME = {cls.name: cls for cls in LOSSES}


def test_all_seven_losses_are_provided():
    assert sorted(BY_NAME) == sorted(TABLE)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_losses_equal_the_table_by_hand(name):
    g, conj = TABLE[name]
    loss = BY_NAME[name]()
    real, fake = torch.tensor(REAL, dtype=torch.float64), torch.tensor(FAKE, dtype=torch.float64)
    bound = mean([g(v) for v in REAL]) - mean([conj(g(v)) for v in FAKE])
    assert loss.critic_loss(real, fake).item() == pytest.approx(-bound, rel=1e-9, abs=1e-12)
    assert loss.diagnostics(real, fake)["divergence"].item() == pytest.approx(bound, rel=1e-9, abs=1e-12)
    # the generator's default objective maximises E_Q[g_f(v)] (section 3.2)
    assert loss.generator_loss(fake).item() == pytest.approx(-mean([g(v) for v in FAKE]), rel=1e-9)
    saturating = BY_NAME[name](saturating=True).generator_loss(fake).item()
    assert saturating == pytest.approx(-mean([conj(g(v)) for v in FAKE]), rel=1e-9)


def test_golden_values():
    # a few values worked out on paper, independent of the table above
    real, fake = torch.tensor([0.0]), torch.tensor([0.0])
    # GAN at v = 0: g = -log 2, f*(g) = log 2 -> critic loss 2 log 2
    assert BY_NAME["fgan-gan"]().critic_loss(real, fake).item() == pytest.approx(2 * math.log(2))
    # JS at v = 0: g = 0, f*(0) = 0 -> critic loss 0
    assert BY_NAME["fgan-js"]().critic_loss(real, fake).item() == pytest.approx(0.0, abs=1e-7)
    # KL at real 1, fake 1: -(1 - e^0) = 0; at real 2, fake 0: -(2 - e^-1)
    assert BY_NAME["fgan-kl"]().critic_loss(torch.tensor([1.0]), torch.tensor([1.0])).item() == pytest.approx(
        0.0
    )
    got = BY_NAME["fgan-kl"]().critic_loss(torch.tensor([2.0]), torch.tensor([0.0])).item()
    assert got == pytest.approx(-(2 - math.exp(-1)))
    # Pearson at real 2, fake 2: -(2 - (1 + 2)) = 1
    assert BY_NAME["fgan-pearson"]().critic_loss(
        torch.tensor([2.0]), torch.tensor([2.0])
    ).item() == pytest.approx(1)


@pytest.mark.parametrize("div", divergences.ALL, ids=lambda d: d.name)
def test_fenchel_identity_at_the_threshold(div):
    """f*(f'(1)) = f'(1) * 1 - f(1): the supremum defining f*(t) at t = f'(1) is attained at u = 1."""
    one = torch.tensor(1.0, dtype=torch.float64)
    t = torch.tensor(div.f_prime_1, dtype=torch.float64)
    assert div.conjugate(t).item() == pytest.approx(div.f_prime_1 - div.f(one).item(), abs=1e-12)
    # and the stable composite agrees with f* of the activation there
    v = div.activation_inverse(t)
    assert div.activation(v).item() == pytest.approx(div.f_prime_1, abs=1e-12)
    assert div.conjugate_of_activation(v).item() == pytest.approx(div.conjugate(t).item(), abs=1e-12)


@pytest.mark.parametrize("div", [d for d in divergences.ALL if d.name != "tv"], ids=lambda d: d.name)
def test_f_prime_1_is_the_derivative_of_f_at_1(div):
    u = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    div.f(u).backward()
    assert u.grad.item() == pytest.approx(div.f_prime_1, abs=1e-12)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_threshold_is_f_prime_1_in_raw_outputs(name):
    cls = BY_NAME[name]
    g, _ = TABLE[name]
    assert g(cls.threshold) == pytest.approx(F_PRIME_1[name], abs=1e-12)
    assert cls().threshold == cls.threshold


def closed_form(div: divergences.Divergence, p: list[float], q: list[float]) -> float:
    u = torch.tensor(p, dtype=torch.float64) / torch.tensor(q, dtype=torch.float64)
    return float((torch.tensor(q, dtype=torch.float64) * div.f(u)).sum())


# two distributions on three points, in quarters, so that batches of 4 represent them exactly
P, Q = [0.5, 0.25, 0.25], [0.25, 0.25, 0.5]
REAL_ATOMS, FAKE_ATOMS = [0, 0, 1, 2], [0, 1, 2, 2]
EXPECTED = {  # D_f(P || Q) written out by hand
    "kl": 0.5 * math.log(2) + 0.25 * math.log(0.5),
    "rkl": 0.25 * math.log(0.5) + 0.5 * math.log(2),
    "pearson": 0.25 * 1 + 0 + 0.5 * 0.25,
    "hellinger": 0.25 * (math.sqrt(2) - 1) ** 2 + 0.5 * (math.sqrt(0.5) - 1) ** 2,
    "tv": 0.5 * (0.25 + 0 + 0.25),
}


@pytest.mark.parametrize("cls", LOSSES, ids=lambda c: c.name)
def test_optimal_critic_estimates_the_closed_form_divergence(cls: type[FGANLoss]):
    """At T*(x) = f'(p(x)/q(x)) the variational bound equals D_f(P || Q) exactly."""
    div = cls.divergence
    ratio = torch.tensor(P, dtype=torch.float64) / torch.tensor(Q, dtype=torch.float64)
    if div.name == "tv":
        # f' is sign(u - 1) / 2, reached by tanh(v) / 2 only as v -> +-inf
        v_star = 40.0 * torch.sign(ratio - 1)
    else:
        u = ratio.clone().requires_grad_(True)
        (t_star,) = torch.autograd.grad(div.f(u).sum(), u)  # f'(p/q)
        v_star = div.activation_inverse(t_star)
    real_out, fake_out = v_star[REAL_ATOMS], v_star[FAKE_ATOMS]
    estimate = cls().diagnostics(real_out, fake_out)["divergence"].item()
    assert estimate == pytest.approx(closed_form(div, P, Q), rel=1e-9, abs=1e-12)
    if div.name in EXPECTED:
        assert estimate == pytest.approx(EXPECTED[div.name], rel=1e-9)
    # a critic that cannot tell P from Q (constant at the threshold) estimates f(1) = D_f(Q || Q): less
    blind = torch.full((4,), cls.threshold, dtype=torch.float64)
    f_1 = div.f(torch.tensor(1.0, dtype=torch.float64)).item()
    assert cls().diagnostics(blind, blind)["divergence"].item() == pytest.approx(f_1, abs=1e-12)
    assert f_1 < estimate - 0.01
    # and the optimal critic's outputs read back as the density ratio
    if div.log_ratio is not None:
        assert cls().logit(v_star).tolist() == pytest.approx(ratio.log().tolist(), abs=1e-9)


def test_gan_and_js_closed_forms_are_jensen_shannon():
    m = [(a + b) / 2 for a, b in zip(P, Q, strict=True)]
    jsd = 0.5 * sum(a * math.log(a / c) for a, c in zip(P, m, strict=True)) + 0.5 * sum(
        b * math.log(b / c) for b, c in zip(Q, m, strict=True)
    )
    assert closed_form(divergences.JENSEN_SHANNON, P, Q) == pytest.approx(2 * jsd)
    assert closed_form(divergences.GAN, P, Q) == pytest.approx(2 * jsd - math.log(4))


@pytest.mark.parametrize("cls", LOSSES, ids=lambda c: c.name)
def test_extreme_outputs_stay_finite_where_the_math_is_finite(cls):
    # outputs of +-60: the naive log(1 - exp(t)) of GAN/JS gives inf or nan here; softplus does not
    real = torch.tensor([60.0, -60.0], requires_grad=True)
    fake = torch.tensor([-60.0, -30.0], requires_grad=True)
    loss = cls().critic_loss(real, fake)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(real.grad).all() and torch.isfinite(fake.grad).all()


def test_gan_divergence_loss_is_the_vanilla_loss():
    from gancore.testing import Vanilla

    real, fake = torch.tensor(REAL), torch.tensor(FAKE)
    got = BY_NAME["fgan-gan"]().critic_loss(real, fake).item()
    assert got == pytest.approx(Vanilla().critic_loss(real, fake).item(), rel=1e-6)
    assert BY_NAME["fgan-gan"]().generator_loss(fake).item() == pytest.approx(
        Vanilla().generator_loss(fake).item(), rel=1e-6
    )
