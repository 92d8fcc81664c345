"""Mode-seeking regularization (Mao, Lee, Tseng, Ma & Yang, *Mode Seeking GANs*, CVPR 2019)."""

from __future__ import annotations

import attrs
from torch import Tensor

from gancore import GeneratorStepContext, Regularizer, option


def mode_seeking_ratio(x1: Tensor, x2: Tensor, z1: Tensor, z2: Tensor) -> Tensor:
    """Mean over pairs of  mean|x1_i - x2_i| / mean|z1_i - z2_i|  (means over each sample's entries)."""
    n = x1.shape[0]
    images = (x1 - x2).abs().reshape(n, -1).mean(1)
    latents = (z1 - z2).abs().reshape(n, -1).mean(1)
    return (images / latents).mean()


def mode_seeking_term(x1: Tensor, x2: Tensor, z1: Tensor, z2: Tensor, weight: float, eps: float) -> Tensor:
    """``weight / (L_ms + eps)``: small when distinct codes give distinct samples (the paper's form)."""
    return weight / (mode_seeking_ratio(x1, x2, z1, z2) + eps)


@attrs.define
class ModeSeeking(Regularizer):
    """Generator term ms_weight / (L_ms + eps), L_ms = E[mean|G(z1)-G(z2)| / mean|z1-z2|] (MSGAN)."""

    name = "modeseek"
    # read at every step (a plain attribute), so `--schedule ms_weight=+0.01/10ep` changes it per epoch
    ms_weight: float = option(
        0.05, help="weight (lambda_ms) of the mode-seeking term", validator=attrs.validators.ge(0)
    )
    ms_eps: float = option(
        1e-5, help="added to L_ms before taking 1 / L_ms (MSGAN's code)", validator=attrs.validators.gt(0)
    )

    def generator_term(self, ctx: GeneratorStepContext) -> Tensor:
        model = ctx.model
        z2 = model.latent(ctx.z.shape[0])  # a second, independent latent batch; G(z1) is the step's own
        # a conditional generator draws G(z2) for the same classes (MSGAN's cGAN case)
        fake2 = model.generate(z2, ctx.fake_labels)
        return mode_seeking_term(ctx.fake, fake2, ctx.z, z2, self.ms_weight, self.ms_eps)
