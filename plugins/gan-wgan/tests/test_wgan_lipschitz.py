"""Weight clipping, the gradient penalty, spectral normalization and the two Lipschitz monitors."""

from __future__ import annotations

import pytest
import torch
from gan_wgan.critic_steps import LipschitzStep
from gan_wgan.monitors import InterpolateGradNorm, SpectralProduct
from gan_wgan.penalty import GradientPenalty
from torch import nn

from gancore import CriticStepContext, DataSpec, GANModel, MonitorContext


def toy_critic(seed: int = 0, scale: float = 1.0) -> nn.Module:
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Linear(32, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1)
    )
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(scale)
    return net


def conv_critic() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(4 * 4 * 4, 1)
    )


def model_of(critic: nn.Module, shape: tuple[int, ...]) -> GANModel:
    kind = "image" if len(shape) == 3 else "points"
    return GANModel(nn.Identity(), critic, None, None, 2, DataSpec(shape, kind), torch.device("cpu"))


def critic_ctx(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> CriticStepContext:
    model = model_of(critic, tuple(real.shape[1:]))
    return CriticStepContext(
        model, real, torch.zeros(len(real), 2), fake, model.score(real), model.score(fake), 0, 0
    )


def linear_critic(weight: torch.Tensor, bias: float = 0.3) -> nn.Module:
    layer = nn.Linear(weight.numel(), 1)
    with torch.no_grad():
        layer.weight.copy_(weight.reshape(1, -1))
        layer.bias.fill_(bias)
    return nn.Sequential(nn.Flatten(), layer)


# weight clipping -----------------------------------------------------------------------------------


def test_clipping_keeps_every_parameter_within_c():
    critic = toy_critic(scale=5.0)
    before = [p.detach().clone() for p in critic.parameters()]
    assert max(p.abs().max().item() for p in before) > 0.5  # the test would be empty otherwise
    LipschitzStep(clip_value=0.01).after_step(critic)
    for old, new in zip(before, critic.parameters(), strict=True):
        assert new.abs().max().item() <= 0.01
        assert torch.equal(new, old.clamp(-0.01, 0.01))  # clamped, not rescaled


def test_no_clipping_by_default():
    critic = toy_critic(scale=5.0)
    before = [p.detach().clone() for p in critic.parameters()]
    LipschitzStep().after_step(critic)
    assert all(torch.equal(a, b) for a, b in zip(before, critic.parameters(), strict=True))


# gradient penalty ----------------------------------------------------------------------------------


def batches(shape: tuple[int, ...], n: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, *shape, generator=g), torch.randn(n, *shape, generator=g) + 2


@pytest.mark.parametrize("shape", [(2,), (1, 4, 4)])
def test_penalty_is_zero_for_a_unit_norm_linear_critic(shape):
    real, fake = batches(shape)
    w = torch.randn(real[0].numel())
    critic = linear_critic(w / w.norm())
    assert GradientPenalty().critic_term(critic_ctx(critic, real, fake)).item() == pytest.approx(
        0.0, abs=1e-10
    )


@pytest.mark.parametrize("norm", [0.5, 2.0, 3.0])
def test_penalty_of_a_linear_critic_is_lambda_times_norm_minus_one_squared(norm):
    real, fake = batches((2,))
    w = torch.tensor([3.0, 4.0]) / 5 * norm
    term = GradientPenalty(gp_weight=10.0).critic_term(critic_ctx(linear_critic(w), real, fake))
    assert term.item() == pytest.approx(10.0 * (norm - 1) ** 2, rel=1e-5)


class HalfSquaredNorm(nn.Module):
    """f(x) = ||x||^2 / 2, whose gradient at x is x itself."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x.flatten(1).square().sum(1, keepdim=True)


@pytest.mark.parametrize(("share", "expected"), [(1.0, 35.0), (0.5, 5.0), (0.6, 50.0 / 3), (0.1, 0.0)])
def test_penalty_share_penalises_the_first_rows_of_the_batch(share, expected):
    # real == fake, so every interpolate is that row whatever eps is: norms 1, 2, 3, 4, and
    # 10 * mean((norm - 1)^2) over the first ceil(share * 4) rows is 35, 5, 50/3 and 0
    rows = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0], [0.0, 4.0]])
    term = GradientPenalty(gp_share=share).critic_term(critic_ctx(HalfSquaredNorm(), rows, rows.clone()))
    assert term.item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("share", [0.0, 1.5, -0.5])
def test_penalty_share_outside_the_unit_interval_is_refused(share):
    with pytest.raises(Exception, match="gp_share"):
        GradientPenalty(gp_share=share)


def test_penalty_is_positive_for_a_nonlinear_critic_and_trains_it():
    real, fake = batches((2,))
    critic = toy_critic()
    term = GradientPenalty().critic_term(critic_ctx(critic, real, fake))
    assert term.item() > 1e-3
    term.backward()  # the double backward reaches the critic's weights
    # every weight matrix gets a gradient (a last-layer bias cannot: it does not change grad D)
    grads = [layer.weight.grad for layer in critic if isinstance(layer, nn.Linear)]
    assert all(g is not None and torch.isfinite(g).all() and g.abs().sum() > 0 for g in grads)


# spectral norms ------------------------------------------------------------------------------------


def monitor_ctx(critic: nn.Module, shape: tuple[int, ...]) -> MonitorContext:
    real, fake = batches(shape)
    return MonitorContext(model_of(critic, shape), real, fake)


def test_spectral_product_of_one_linear_layer_is_its_largest_singular_value():
    torch.manual_seed(3)
    layer = nn.Linear(7, 5)
    bound = SpectralProduct().measure(monitor_ctx(nn.Sequential(layer), (7,)))["bound"]
    assert bound.item() == pytest.approx(torch.linalg.matrix_norm(layer.weight.detach(), 2).item(), rel=1e-5)


def test_spectral_product_reshapes_conv_kernels_and_multiplies_layers():
    critic = conv_critic()
    conv, linear = critic[0].weight.detach(), critic[3].weight.detach()
    expected = torch.linalg.matrix_norm(conv.reshape(4, -1), 2) * torch.linalg.matrix_norm(linear, 2)
    bound = SpectralProduct().measure(monitor_ctx(critic, (1, 8, 8)))["bound"]
    assert bound.item() == pytest.approx(expected.item(), rel=1e-5)


def test_power_iteration_is_kept_between_calls():
    torch.manual_seed(4)
    layer = nn.Linear(16, 16)
    u, _ = torch.linalg.qr(torch.randn(16, 16))
    v, _ = torch.linalg.qr(torch.randn(16, 16))
    with torch.no_grad():  # singular values 4, 2, 1, 0.5, ...: a clear gap, so convergence is fast
        layer.weight.copy_(u @ torch.diag(4.0 * 0.5 ** torch.arange(16.0)) @ v.T)
    monitor = SpectralProduct(sn_power_iters=1)
    ctx = monitor_ctx(nn.Sequential(layer), (16,))
    monitor.measure(ctx)
    kept = monitor._vectors["0"].clone()
    with torch.no_grad():
        layer.weight.add_(1e-2 * torch.randn(16, 16))
    bound = monitor.measure(ctx)["bound"]  # one iteration, from the kept vector: still accurate
    assert bound.item() == pytest.approx(torch.linalg.matrix_norm(layer.weight.detach(), 2).item(), rel=1e-5)
    # whereas one iteration from a random start is not
    fresh = SpectralProduct(sn_power_iters=1)
    fresh.measure(ctx)
    fresh._vectors["0"] = torch.nn.functional.normalize(torch.randn(16), dim=0)
    rough = fresh.measure(ctx)["bound"].item()
    assert abs(rough - torch.linalg.matrix_norm(layer.weight.detach(), 2).item()) > 1e-3
    assert not torch.equal(kept, monitor._vectors["0"])


def test_spectral_norm_option_wraps_every_layer():
    critic = LipschitzStep(spectral_norm=True).prepare(conv_critic())
    assert nn.utils.parametrize.is_parametrized(critic[0], "weight")
    assert nn.utils.parametrize.is_parametrized(critic[3], "weight")
    for _ in range(10):  # spectral_norm refines its estimate once per training forward
        critic(torch.randn(4, 1, 8, 8))
    bound = SpectralProduct().measure(monitor_ctx(critic, (1, 8, 8)))["bound"]
    assert bound.item() == pytest.approx(1.0, abs=0.02)
    assert not nn.utils.parametrize.is_parametrized(LipschitzStep().prepare(conv_critic())[0])


# interpolate gradients -----------------------------------------------------------------------------


def test_interpolate_gradient_norm_of_a_linear_critic_is_its_weight_norm():
    critic = linear_critic(torch.tensor([3.0, 4.0]))
    values = InterpolateGradNorm().measure(monitor_ctx(critic, (2,)))
    assert values["max"].item() == pytest.approx(5.0) and values["mean"].item() == pytest.approx(5.0)


def test_gradient_norms_below_the_spectral_bound():
    critic = toy_critic()
    ctx = monitor_ctx(critic, (2,))
    lower = InterpolateGradNorm().measure(ctx)["max"].item()
    upper = SpectralProduct().measure(ctx)["bound"].item()
    assert 0 < lower <= upper


def test_monitors_leave_the_run_untouched():
    """A run trains the same with and without monitors: no gradients left on the critic, the global
    random stream not moved (dropout), spectral-norm buffers not advanced, training mode restored."""
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Dropout(0.5), nn.Linear(32, 1))
    critic = LipschitzStep(spectral_norm=True).prepare(critic)
    ctx = monitor_ctx(critic, (2,))
    before = {k: v.clone() for k, v in critic.state_dict().items()}
    rng = torch.get_rng_state()
    InterpolateGradNorm().measure(ctx)
    SpectralProduct().measure(ctx)
    assert torch.equal(rng, torch.get_rng_state())
    assert all(torch.equal(before[k], v) for k, v in critic.state_dict().items())
    assert all(p.grad is None for p in critic.parameters())
    assert critic.training and critic[2].training
