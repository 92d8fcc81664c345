"""The Wasserstein losses by hand, and the settings wgan and wgan-gp resolve to."""

from __future__ import annotations

import pytest
import torch
from gan_wgan.losses import WGAN, WGANGP

from gancore.testing import resolve_config

REAL = [1.5, -0.5, 0.25]
FAKE = [-1.0, 0.5, -2.0]


@pytest.mark.parametrize("cls", [WGAN, WGANGP])
def test_losses_by_hand(cls):
    real, fake = torch.tensor(REAL), torch.tensor(FAKE)
    # E[D(fake)] - E[D(real)] = -2.5/3 - 1.25/3
    assert cls().critic_loss(real, fake).item() == pytest.approx(-1.25)
    assert cls().generator_loss(fake).item() == pytest.approx(2.5 / 3)
    assert cls().diagnostics(real, fake) == {"wasserstein": pytest.approx(torch.tensor(1.25))}
    assert cls().logit(real) is None


def test_wgan_resolves_to_clipping_rmsprop_and_five_critic_steps():
    config = resolve_config({"loss": "wgan"}, {})
    assert (config.optimizer, config.lr_d, config.lr_g, config.n_critic) == ("rmsprop", 5e-5, 5e-5, 5)
    assert config.critic_step == "lipschitz"
    assert config.options["clip_value"] == 0.01 and config.options["spectral_norm"] is False
    assert set(config.monitors) == {"spectral-product", "interp-grad"}
    assert config.regs == ()


def test_wgan_gp_resolves_to_penalty_10_and_adam():
    config = resolve_config({"loss": "wgan-gp"}, {})
    assert (config.optimizer, config.lr_d, config.lr_g) == ("adam", 1.6e-3, 1.6e-3)
    assert (config.beta1, config.beta2, config.n_critic) == (0.5, 0.9, 5)
    assert config.callbacks == ("ema",)
    assert config.regs == ("gp",)
    assert config.options["gp_weight"] == 10.0 and config.options["clip_value"] == 0.0
    assert config.options["gp_share"] == 0.5
    assert "drs_keep_training" not in config.options  # a recommendation for a sampler not selected


def test_wgan_gp_with_drs_keeps_training_its_critic():
    config = resolve_config({"loss": "wgan-gp", "sampler": "drs"}, {})
    assert (config.options["drs_keep_training"], config.options["drs_lr"]) == (300, 5e-4)
    assert config.options["drs_gamma"] == "p25"
    config = resolve_config({"loss": "wgan-gp", "sampler": "drs"}, {"drs_keep_training": 0})
    assert config.options["drs_keep_training"] == 0


def test_explicit_settings_win_over_recommendations():
    config = resolve_config(
        {"loss": "wgan-gp", "n_critic": 2, "regs": ["gp"]},
        {"gp_weight": 1.0, "spectral_norm": True},
    )
    assert config.n_critic == 2 and config.regs == ("gp",)
    assert config.options["gp_weight"] == 1.0 and config.options["spectral_norm"] is True
