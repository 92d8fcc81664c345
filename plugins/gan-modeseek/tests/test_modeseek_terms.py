"""The mode-seeking term against a hand computation, and the gmm prior's mixture."""

from __future__ import annotations

import math

import pytest
import torch
from gan_modeseek.modeseek import ModeSeeking, mode_seeking_ratio, mode_seeking_term
from gan_modeseek.priors import GaussianMixture, circle_means
from torch import nn

from gancore import ConfigError, DataSpec, GANModel, GeneratorStepContext
from gancore.testing import Normal, Vanilla


def test_term_equals_a_hand_computed_value():
    x1 = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    x2 = torch.tensor([[0.0, 0.0], [3.0, 1.0]])
    z1 = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    z2 = torch.tensor([[0.0, 0.0, 0.0], [2.0, 2.0, 2.0]])
    # pair 1: mean|dx| = 1.5, mean|dz| = 1/3 -> 4.5;  pair 2: 2.0 / 2.0 -> 1.0;  L_ms = (4.5 + 1.0) / 2
    assert mode_seeking_ratio(x1, x2, z1, z2).item() == pytest.approx(2.75)
    assert mode_seeking_term(x1, x2, z1, z2, 0.05, 1e-5).item() == pytest.approx(
        0.05 / (2.75 + 1e-5), rel=1e-6
    )


def test_images_of_any_shape_are_averaged_per_sample():
    x1 = torch.zeros(2, 1, 2, 2)
    x2 = torch.tensor([[[[4.0, 0.0], [0.0, 0.0]]], [[[1.0, 1.0], [1.0, 1.0]]]])  # mean |dx| = 1 and 1
    z1, z2 = torch.zeros(2, 2), torch.tensor([[1.0, 1.0], [0.5, 0.5]])  # mean |dz| = 1 and 0.5
    assert mode_seeking_ratio(x1, x2, z1, z2).item() == pytest.approx((1.0 + 2.0) / 2)


def tiny_context(seed: int) -> tuple[ModeSeeking, GeneratorStepContext]:
    torch.manual_seed(0)
    generator = nn.Linear(3, 2)
    model = GANModel(generator, nn.Linear(2, 1), Normal(), Vanilla(), 3, DataSpec((2,), "points"),
                     torch.device("cpu"))  # fmt: skip
    torch.manual_seed(seed)
    z = model.latent(16)
    fake = model.generate(z)
    return ModeSeeking(), GeneratorStepContext(model, fake.detach(), z, fake, fake.sum(1), 0, 0)


def test_the_generator_term_pulls_distinct_codes_apart_and_reads_the_weight_each_call():
    reg, ctx = tiny_context(1)
    torch.manual_seed(2)
    term = reg.generator_term(ctx)
    assert term.item() > 0
    term.backward()
    weight = ctx.model.generator.weight
    # descending the term scales the generator's weights up (distinct codes -> more distinct samples)
    assert (weight.grad * weight).sum().item() < 0
    reg.ms_weight = 0.1  # what `--schedule ms_weight=...` does between epochs
    torch.manual_seed(2)
    again = reg.generator_term(ctx)
    assert again.item() == pytest.approx(2 * term.item(), rel=1e-6)


def test_gmm_prior_is_a_mixture_of_unit_gaussians_on_a_circle():
    prior = GaussianMixture(gmm_components=6, gmm_radius=50.0)  # far apart: nearest mean = the component
    z = prior.sample(60_000, 4, torch.device("cpu"), generator=torch.Generator().manual_seed(0))
    means = circle_means(6, 50.0, 4)
    assert torch.allclose(
        means[1, :2], torch.tensor([50 * math.cos(math.pi / 3), 50 * math.sin(math.pi / 3)])
    )
    assert (means[:, 2:] == 0).all()
    which = torch.cdist(z, means).argmin(1)
    counts = torch.bincount(which, minlength=6).float() / len(z)
    assert torch.allclose(counts, torch.full((6,), 1 / 6), atol=0.01)
    residual = z - means[which]
    assert torch.allclose(residual.mean(0), torch.zeros(4), atol=0.02)
    assert torch.allclose(residual.std(0), torch.ones(4), atol=0.02)


def test_gmm_prior_honours_the_generator_argument():
    prior = GaussianMixture()
    a = prior.sample(100, 8, torch.device("cpu"), generator=torch.Generator().manual_seed(3))
    b = prior.sample(100, 8, torch.device("cpu"), generator=torch.Generator().manual_seed(3))
    c = prior.sample(100, 8, torch.device("cpu"), generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_gmm_prior_needs_two_latent_dimensions():
    with pytest.raises(ConfigError, match="latent-dim >= 2"):
        GaussianMixture().sample(4, 1, torch.device("cpu"))
