"""The hinge loss: Lim & Ye, *Geometric GAN* (2017); Miyato, Kataoka, Koyama & Yoshida, *Spectral
Normalization for Generative Adversarial Networks* (ICLR 2018), whose SN-GAN made it the default loss
of most image GANs since (BigGAN, SAGAN).

The critic is a soft-margin SVM on its raw output: real samples are pushed above +1, generated ones
below -1, and samples already beyond the margin give no gradient, so a confident critic stops pulling
on them instead of growing its outputs without bound. The generator maximises the critic's output
on its samples.

``--loss-per-sample`` (off by default; gan-topk's ``topk`` weighting recommends it) returns one value
per sample, whose mean is the loss: sample i's critic loss is ``relu(1 - r_i) + relu(1 + f_i)``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import torch.nn.functional as F
from torch import Tensor

from gancore import Loss, option


@attrs.define
class Hinge(Loss):
    """Hinge loss (Lim & Ye 2017; Miyato et al. 2018): relu(1 - v_real) + relu(1 + v_fake); G: -v_fake."""

    name = "hinge"
    # SN-GAN's setting for its ResNet models (Miyato et al. 2018; also Miyato & Koyama 2018):
    # Adam(2e-4, betas 0/0.9) and five critic steps per generator step
    recommends: ClassVar[dict[str, Any]] = {
        "lr_d": 2e-4,
        "lr_g": 2e-4,
        "beta1": 0.0,
        "beta2": 0.9,
        "n_critic": 5,
    }
    loss_per_sample: bool = option(
        False, help="return one loss value per sample (what --weighting needs); their mean is the same loss"
    )

    @property
    def per_sample(self) -> bool:  # type: ignore[override]  # an option here, a class constant in Loss
        return self.loss_per_sample

    def critic_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        if self.loss_per_sample:
            return F.relu(1.0 - real_out) + F.relu(1.0 + fake_out)
        return F.relu(1.0 - real_out).mean() + F.relu(1.0 + fake_out).mean()

    def generator_loss(self, fake_out: Tensor) -> Tensor:
        return -fake_out if self.loss_per_sample else -fake_out.mean()

    def diagnostics(self, real_out: Tensor, fake_out: Tensor) -> dict[str, Tensor]:
        # the share of samples inside the margin: the only ones the critic still learns from
        inside = (real_out < 1.0).float().mean() + (fake_out > -1.0).float().mean()
        return {"in_margin": inside / 2}
