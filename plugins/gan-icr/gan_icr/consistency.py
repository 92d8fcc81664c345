"""Consistency regularization of the critic (Zhao et al. 2020, *Improved Consistency Regularization for
GANs*, AAAI 2021; report 001): ``bcr``, ``zcr`` and ``icr`` = both.

- ``bcr`` (balanced consistency): the critic's output on a real and on a generated image is kept close
  to its output on an augmented copy T(x),
  ``bcr_real_weight * E_P (D(x) - D(T(x)))^2 + bcr_fake_weight * E_Q (D(x) - D(T(x)))^2`` (critic).
- ``zcr`` (latent consistency): with dz ~ N(0, zcr_sigma^2 I), the critic is kept consistent,
  ``zcr_dis_weight * E (D(G(z)) - D(G(z + dz)))^2`` (critic), and the generator is pushed to make
  G(z) and G(z + dz) differ, ``-zcr_gen_weight * E mean_pixels (G(z) - G(z + dz))^2`` (generator).

D is the critic as the adversarial loss sees it (``model.score``, after any ``--augment``), so the
un-augmented side reuses the step's ``real_out`` / ``fake_out`` and each term costs the fewest extra
forward passes: bcr two critic passes, zcr one generator and one critic pass per step.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ClassVar

import attrs
import torch
from torch import Tensor

from gan_icr.augment import AUGMENTATIONS
from gancore import (
    ConfigError,
    CriticStepContext,
    GANModel,
    GeneratorStepContext,
    Regularizer,
    compose,
    option,
)

_non_negative = attrs.validators.ge(0.0)


@functools.lru_cache(maxsize=16)
def transform(names: str) -> Callable[[Tensor], Tensor]:
    """The composition of the named augmentations (with their default settings), left to right."""
    return compose(AUGMENTATIONS[name.strip()]() for name in names.split(",") if name.strip())


def _augment_names(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in AUGMENTATIONS]
    if not names or unknown:
        raise ValueError(
            f"--bcr-augment {value!r}: expected a comma-separated list of {', '.join(AUGMENTATIONS)}"
        )


@attrs.define
class BalancedConsistency(Regularizer):
    """bCR: critic outputs on real and fake images kept close to those on augmented copies (critic)."""

    name = "bcr"
    bcr_real_weight: float = option(
        10.0, help="weight (lambda_real) of bCR on real images", validator=_non_negative
    )
    bcr_fake_weight: float = option(
        10.0, help="weight (lambda_fake) of bCR on generated images", validator=_non_negative
    )
    bcr_augment: str = option(
        "translation",
        help="consistency transform T: comma-separated flip, translation, cutout, color (applied in order)",
        validator=_augment_names,
    )

    def check(self, model: GANModel) -> None:
        spec = model.spec
        if spec.kind != "image":
            raise ConfigError(
                f"regularizer 'bcr' augments images, but this dataset has {spec.kind}"
                f" of shape {spec.shape}; use --reg zcr for non-image data"
            )

    def critic_term(self, ctx: CriticStepContext) -> Tensor:
        t = transform(self.bcr_augment)
        real_term = (ctx.real_out - ctx.model.score(t(ctx.real), ctx.real_labels)).square().mean()
        fake_term = (ctx.fake_out - ctx.model.score(t(ctx.fake), ctx.fake_labels)).square().mean()
        return self.bcr_real_weight * real_term + self.bcr_fake_weight * fake_term


@attrs.define
class LatentConsistency(Regularizer):
    """zCR: critic consistent under z -> z + dz (critic); G(z) and G(z + dz) pushed apart (generator)."""

    name = "zcr"
    zcr_sigma: float = option(
        0.03, help="standard deviation of the latent perturbation dz", validator=_non_negative
    )
    zcr_dis_weight: float = option(
        5.0, help="weight (lambda_dis) of zCR's critic term", validator=_non_negative
    )
    zcr_gen_weight: float = option(
        0.5, help="weight (lambda_gen) of zCR's generator term", validator=_non_negative
    )

    def perturbed(self, z: Tensor) -> Tensor:
        return z + self.zcr_sigma * torch.randn_like(z)

    def critic_term(self, ctx: CriticStepContext) -> Tensor:
        with torch.no_grad():
            fake_dz = ctx.model.generate(self.perturbed(ctx.z), ctx.fake_labels)  # z moves, the class stays
        return (
            self.zcr_dis_weight * (ctx.fake_out - ctx.model.score(fake_dz, ctx.fake_labels)).square().mean()
        )

    def generator_term(self, ctx: GeneratorStepContext) -> Tensor:
        fake_dz = ctx.model.generate(self.perturbed(ctx.z), ctx.fake_labels)
        return -self.zcr_gen_weight * (ctx.fake - fake_dz).square().mean()


@attrs.define
class ImprovedConsistency(Regularizer):
    """ICR = bCR + zCR: selecting it adds --reg bcr --reg zcr (their terms are logged under their names)."""

    name = "icr"
    # the two terms are the bcr and zcr components themselves: their options, their log keys, and
    # `--reg icr --reg bcr` does not count bCR twice (recommended regularizers are unioned)
    recommends: ClassVar[dict[str, Any]] = {"regs": ["bcr", "zcr"]}
