"""bCR vanishes for an augmentation-invariant critic; zCR's generator term pushes G(z), G(z + dz) apart."""

from __future__ import annotations

import pytest
import torch
from gan_icr.consistency import BalancedConsistency, LatentConsistency
from torch import nn

from gancore import ConfigError, CriticStepContext, DataSpec, GANModel, GeneratorStepContext

SHAPE = (1, 8, 8)
LR = 20.0


pytestmark = pytest.mark.usefixtures("one_thread")  # from the gancore.testing pytest plugin


class Prior:
    def sample(self, n, latent_dim, device, generator=None):
        return torch.randn(n, latent_dim, device=device, generator=generator)


class Critic(nn.Module):
    """An MLP on the image, or on x + mirror(x): then mirroring the input changes nothing."""

    def __init__(self, symmetric: bool) -> None:
        super().__init__()
        self.symmetric = symmetric
        self.mlp = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x + x.flip(-1) if self.symmetric else x)


def model(critic: nn.Module, spec: DataSpec | None = None) -> GANModel:
    torch.manual_seed(0)
    spec = spec or DataSpec(SHAPE, "image")
    generator = nn.Sequential(nn.Linear(4, spec.numel), nn.Tanh())
    return GANModel(generator, critic, Prior(), None, 4, spec, torch.device("cpu"))


def critic_ctx(m: GANModel, n: int = 32) -> CriticStepContext:
    real = torch.rand(n, *m.spec.shape) * 2 - 1
    z = m.latent(n)
    with torch.no_grad():
        fake = m.generate(z)
    return CriticStepContext(m, real, z, fake, m.score(real), m.score(fake), step=0, epoch=0)


@pytest.mark.parametrize("augment", ["flip", "flip,flip"])
def test_bcr_is_zero_for_a_flip_invariant_critic(augment):
    m = model(Critic(symmetric=True))
    term = BalancedConsistency(bcr_augment=augment).critic_term(critic_ctx(m))
    assert term.abs() < 1e-8


def test_bcr_is_positive_otherwise():
    torch.manual_seed(0)
    m = model(Critic(symmetric=False))
    term = BalancedConsistency(bcr_augment="flip").critic_term(critic_ctx(m))
    assert term > 1e-4
    symmetric = model(Critic(symmetric=True))  # a symmetric critic is still not translation-invariant
    assert BalancedConsistency(bcr_augment="translation").critic_term(critic_ctx(symmetric)) > 1e-4


def test_bcr_weights_scale_each_side_and_its_gradient_reaches_the_critic():
    m = model(Critic(symmetric=False))
    ctx = critic_ctx(m)
    torch.manual_seed(5)
    real_only = BalancedConsistency(bcr_augment="flip", bcr_fake_weight=0.0).critic_term(ctx)
    torch.manual_seed(5)
    both = BalancedConsistency(bcr_augment="flip", bcr_real_weight=20.0).critic_term(ctx)
    torch.manual_seed(5)
    fake_only = BalancedConsistency(bcr_augment="flip", bcr_real_weight=0.0).critic_term(ctx)
    assert real_only > 0 and fake_only > 0
    assert torch.allclose(both, 2 * real_only + fake_only)
    both.backward()
    weights = [p for name, p in m.critic.named_parameters() if name.endswith("weight")]
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in weights)


def test_bcr_refuses_points_and_unknown_augmentations():
    m = model(nn.Linear(2, 1), DataSpec((2,), "points"))
    with pytest.raises(ConfigError, match=r"bcr.*points"):
        BalancedConsistency().check(m)
    with pytest.raises(ValueError, match="flip, translation, cutout, color"):
        BalancedConsistency(bcr_augment="rotate")


def test_zcr_generator_step_pushes_perturbed_samples_apart():
    m = model(Critic(symmetric=False))
    reg = LatentConsistency(zcr_sigma=0.3, zcr_gen_weight=0.5)  # a large dz: a visible effect
    torch.manual_seed(1)
    z = m.latent(64)
    torch.manual_seed(2)
    dz = 0.3 * torch.randn_like(z)  # the perturbation the term draws below

    def distance() -> torch.Tensor:
        with torch.no_grad():
            return (m.generate(z) - m.generate(z + dz)).square().mean()

    before = distance()
    fake = m.generate(z)
    ctx = GeneratorStepContext(m, torch.zeros(64, *SHAPE), z, fake, m.score(fake), step=0, epoch=0)
    torch.manual_seed(2)
    term = reg.generator_term(ctx)
    assert torch.allclose(term, -0.5 * (fake - m.generate(z + dz)).square().mean())
    opt = torch.optim.SGD(m.generator.parameters(), lr=LR)
    opt.zero_grad()
    term.backward()
    opt.step()
    assert distance() > before * 1.01


def test_zcr_critic_term_is_the_squared_output_gap_and_trains_the_critic():
    m = model(Critic(symmetric=False))
    ctx = critic_ctx(m)
    reg = LatentConsistency(zcr_dis_weight=5.0, zcr_sigma=0.5)
    term = reg.critic_term(ctx)
    assert term > 0
    term.backward()
    assert all(p.grad is not None for p in m.critic.parameters())
    assert all(p.grad is None for p in m.generator.parameters())  # G(z + dz) is not trained here
    assert LatentConsistency(zcr_sigma=0.0).critic_term(critic_ctx(m)) < 1e-10  # dz = 0: nothing to fix
