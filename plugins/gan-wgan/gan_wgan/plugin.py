"""The entry point gancore loads (group ``gancore``): losses, gradient penalty, constraints, monitors."""

from __future__ import annotations

from gan_wgan.critic_steps import LipschitzStep
from gan_wgan.losses import WGAN, WGANGP
from gan_wgan.monitors import InterpolateGradNorm, SpectralProduct
from gan_wgan.penalty import GradientPenalty
from gancore import hookimpl


@hookimpl
def gancore_losses() -> list[type]:
    return [WGAN, WGANGP]


@hookimpl
def gancore_regularizers() -> list[type]:
    return [GradientPenalty]


@hookimpl
def gancore_critic_steps() -> list[type]:
    return [LipschitzStep]


@hookimpl
def gancore_lipschitz_monitors() -> list[type]:
    return [SpectralProduct, InterpolateGradNorm]
