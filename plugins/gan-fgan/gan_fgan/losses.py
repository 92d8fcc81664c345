"""f-GAN losses: the critic maximises the variational lower bound of an f-divergence.

    critic:     maximise  E_P[g_f(v)] - E_Q[f*(g_f(v))]          (v: raw critic output)
    generator:  maximise  E_Q[g_f(v)]                            (the paper's section 3.2 trick)
                or minimise -E_Q[f*(g_f(v))] with --saturating   (the saddle-point objective)

The accuracy the engine logs (d_acc_real / d_acc_fake) counts raw outputs above g_f^{-1}(f'(1)),
which is T = g_f(v) compared with f'(1), the criterion of the paper's section 4.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
from torch import Tensor

from gan_fgan import divergences
from gan_fgan.divergences import Divergence
from gancore import Loss, option


@attrs.define
class FGANLoss(Loss):
    """Base of the f-GAN losses; a subclass names its divergence."""

    divergence: ClassVar[Divergence]
    saturating: bool = option(
        False, help="generator minimises -E_Q f*(g_f(v)), the saddle point, instead of maximising E_Q g_f(v)"
    )

    def bound(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        """The variational estimate of D_f(P || Q): a lower bound, tight for the optimal critic."""
        d = self.divergence
        return d.activation(real_out).mean() - d.conjugate_of_activation(fake_out).mean()

    def critic_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        return -self.bound(real_out, fake_out)

    def generator_loss(self, fake_out: Tensor) -> Tensor:
        if self.saturating:
            return -self.divergence.conjugate_of_activation(fake_out).mean()
        return -self.divergence.activation(fake_out).mean()

    def diagnostics(self, real_out: Tensor, fake_out: Tensor) -> dict[str, Tensor]:
        return {"divergence": self.bound(real_out, fake_out)}

    def logit(self, out: Tensor) -> Tensor | None:
        # at the optimum T* = f'(p/q), so the raw output determines log p/q (what DRS-like samplers want)
        log_ratio = self.divergence.log_ratio
        return None if log_ratio is None else log_ratio(out)


@attrs.define
class FGan(FGANLoss):
    """f-GAN with the GAN divergence, 2 JSD - log 4 (the original GAN's objective)."""

    name = "fgan-gan"
    divergence = divergences.GAN
    threshold = divergences.GAN.threshold


@attrs.define
class FJensenShannon(FGANLoss):
    """f-GAN with the Jensen-Shannon divergence (f of the paper's table: twice the JSD)."""

    name = "fgan-js"
    divergence = divergences.JENSEN_SHANNON
    threshold = divergences.JENSEN_SHANNON.threshold


@attrs.define
class FKullbackLeibler(FGANLoss):
    """f-GAN with the Kullback-Leibler divergence KL(P || Q); recommends the aids report 000 needed."""

    name = "fgan-kl"
    divergence = divergences.KL
    threshold = divergences.KL.threshold
    # exp(v - 1) on generated samples makes KL the unstable one: report 000 trained it only with
    # clipped gradients, weight decay on the critic and the learning-rate ramp (plus --init-from)
    recommends: ClassVar[dict[str, Any]] = {
        "clip_grad": 1.0,
        "weight_decay_d": 1e-4,
        "lr_schedule": "decade-warmup",
    }


@attrs.define
class FReverseKL(FGANLoss):
    """f-GAN with the reverse Kullback-Leibler divergence KL(Q || P)."""

    name = "fgan-rkl"
    divergence = divergences.REVERSE_KL
    threshold = divergences.REVERSE_KL.threshold


@attrs.define
class FPearson(FGANLoss):
    """f-GAN with the Pearson chi-squared divergence."""

    name = "fgan-pearson"
    divergence = divergences.PEARSON
    threshold = divergences.PEARSON.threshold


@attrs.define
class FHellinger(FGANLoss):
    """f-GAN with the squared Hellinger distance."""

    name = "fgan-hellinger"
    divergence = divergences.HELLINGER
    threshold = divergences.HELLINGER.threshold


@attrs.define
class FTotalVariation(FGANLoss):
    """f-GAN with the total variation distance."""

    name = "fgan-tv"
    divergence = divergences.TOTAL_VARIATION
    threshold = divergences.TOTAL_VARIATION.threshold


LOSSES = [FGan, FJensenShannon, FKullbackLeibler, FReverseKL, FPearson, FHellinger, FTotalVariation]
