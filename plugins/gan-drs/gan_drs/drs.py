"""Discriminator rejection sampling (Azadi, Olsson, Darrell, Goodfellow & Odena, ICLR 2019)."""

from __future__ import annotations

import copy
import math
from typing import Any, ClassVar

import attrs
import torch
from torch import Tensor, nn

from gancore.components import Sampler, option
from gancore.errors import ConfigError
from gancore.records import Data, GANModel

BURN_IN_BATCH = 1000


def parse_gamma(text: str) -> tuple[str, float]:
    """``"p95"`` -> ("percentile", 95.0); ``"0"`` or ``"-1.5"`` -> ("fixed", value); else ValueError."""
    text = text.strip().lower()
    if text.startswith("p"):
        q = float(text[1:])
        if not 0.0 <= q <= 100.0:
            raise ValueError(f"percentile {q} is not in [0, 100]")
        return "percentile", q
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("gamma must be finite")
    return "fixed", value


def _gamma_validator(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    try:
        parse_gamma(value)
    except ValueError:
        raise ConfigError(
            f"--drs-gamma {value!r}: give pNN (the NN-th percentile of F per batch, e.g. p95) or a number"
        ) from None


def acceptance_scores(logit: Tensor, max_logit: float, eps: float) -> Tensor:
    """F(x) = d - log(1 - exp(d - eps)), d = D~(x) - D~_M <= 0, before the shift by gamma (float64).

    ``log(1 - exp(y))`` for y < 0 is written ``log(-expm1(y))``, exact for y near 0 and for y << 0.
    """
    d = logit.double() - max_logit
    return d - torch.log(-torch.expm1(d - eps))


def gamma_of(scores: Tensor, mode: str, value: float) -> Tensor:
    if mode == "percentile":
        return torch.quantile(scores, value / 100.0)
    return scores.new_tensor(value)


@attrs.define
class DiscriminatorRejection(Sampler):
    """Accept G(z) with probability sigmoid(F(x) - gamma), F built from the critic's logit (DRS)."""

    name = "drs"
    needs_data: ClassVar[bool] = True

    drs_keep_training: int = option(
        0,
        help="critic steps on held-out real data, generator frozen, before sampling (0: none)",
        validator=attrs.validators.ge(0),
    )
    drs_lr: float = option(
        1e-4, help="Adam learning rate of --drs-keep-training", validator=attrs.validators.gt(0)
    )
    drs_batch_size: int = option(
        64, help="batch size of --drs-keep-training", validator=attrs.validators.gt(0)
    )
    drs_holdout: float = option(
        0.1,
        help="fraction of the training data (its last rows) used as held-out data for keep-training",
        validator=[attrs.validators.gt(0.0), attrs.validators.le(1.0)],
    )
    drs_burn_in: int = option(
        10_000,
        help="generated samples whose largest logit starts the estimate of D~_M",
        validator=attrs.validators.gt(0),
    )
    drs_eps: float = option(
        1e-6, help="epsilon inside log(1 - exp(D~ - D~_M - eps))", validator=attrs.validators.gt(0)
    )
    drs_gamma: str = option(
        "p95",
        help="gamma: pNN = the NN-th percentile of F in each batch (the paper's), or a fixed number",
        validator=_gamma_validator,
    )
    drs_min_acceptance: float = option(
        1e-3,
        help="give up (one error line) after n / this many candidates without n accepted",
        validator=[attrs.validators.gt(0.0), attrs.validators.le(1.0)],
    )

    # what the last prepare/sample measured (read them after `gancore.sampling.draw` or in tests)
    max_logit: float | None = attrs.field(default=None, init=False)
    acceptance_rate: float | None = attrs.field(default=None, init=False)
    candidates: int = attrs.field(default=0, init=False)
    _critic: nn.Module | None = attrs.field(default=None, init=False, repr=False)

    def stats(self) -> dict[str, float | int | None]:
        """The numbers worth reporting: acceptance rate, candidates drawn, the estimate of D~_M."""
        return {
            "acceptance_rate": self.acceptance_rate,
            "candidates": self.candidates,
            "max_logit": self.max_logit,
        }

    # -- preparation ---------------------------------------------------------------------------------

    def prepare(self, model: GANModel, data: Data | None) -> None:
        self._require_logit(model)
        self._critic = model.critic
        if self.drs_keep_training:
            self._critic = self._keep_training(model, data)
        self.max_logit = self._burn_in(model)
        self.acceptance_rate, self.candidates = None, 0

    def check(self, model: GANModel) -> None:
        self._require_logit(model)  # refuse before training, not after it

    def _require_logit(self, model: GANModel) -> None:
        probe = torch.zeros(1, device=model.device)
        if model.loss.logit(probe) is None:
            raise ConfigError(
                "sampler drs needs a loss whose critic output is a logit of real vs fake (vanilla, lsgan,"
                f" f-GAN losses with a log-ratio); loss {model.loss.name!r} has none: use --sampler threshold"
            )

    def _keep_training(self, model: GANModel, data: Data | None) -> nn.Module:
        """A copy of the critic trained on (held-out real, frozen-generator fake) batches with the run's loss.

        The copy leaves the run's own critic untouched (the per-epoch evaluation samples mid-training).
        """
        if data is None:
            raise ConfigError(
                "--drs-keep-training needs the run's dataset, but none was given to the sampler"
            )
        n_held = max(1, math.ceil(self.drs_holdout * len(data)))
        held = data.x[len(data) - n_held :]
        critic = copy.deepcopy(model.critic)
        critic.train()
        for p in critic.parameters():
            p.requires_grad_(True)
        opt = torch.optim.Adam(critic.parameters(), lr=self.drs_lr, betas=(0.5, 0.999))
        for _ in range(self.drs_keep_training):
            idx = torch.randint(n_held, (self.drs_batch_size,), device=held.device)
            real = data.decode(held[idx]).to(model.device)
            with torch.no_grad():
                fake = model.generate(model.latent(self.drs_batch_size))
            # the run's own loss: for vanilla this is BCE on logits; for any loss with a logit, the critic
            # stays at the optimum that loss.logit reads as log p/q
            loss = model.loss.critic_loss(critic(real).reshape(-1), critic(fake).reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        critic.eval()
        for p in critic.parameters():
            p.requires_grad_(False)
        return critic

    @torch.no_grad()
    def _logits(self, model: GANModel, x: Tensor) -> Tensor:
        critic = self._critic if self._critic is not None else model.critic
        return model.loss.logit(critic(x).reshape(-1)).double()

    @torch.no_grad()
    def _burn_in(self, model: GANModel) -> float:
        best = -math.inf
        for start in range(0, self.drs_burn_in, BURN_IN_BATCH):
            m = min(BURN_IN_BATCH, self.drs_burn_in - start)
            best = max(best, self._logits(model, model.generate(model.latent(m))).max().item())
        return best

    # -- sampling ------------------------------------------------------------------------------------

    @torch.no_grad()
    def sample(self, model: GANModel, n: int, batch_size: int = 1000) -> Tensor:
        if self.max_logit is None:  # sampled without prepare: burn in now (no keep-training)
            self._require_logit(model)
            self.max_logit = self._burn_in(model)
        mode, value = parse_gamma(self.drs_gamma)
        limit = max(batch_size, math.ceil(n / self.drs_min_acceptance))
        parts, accepted, drawn = [], 0, 0
        while accepted < n:
            if drawn >= limit:
                rate = accepted / drawn
                raise ConfigError(
                    f"sampler drs accepted {accepted} of {drawn} candidates (rate {rate:.2g}, below"
                    f" --drs-min-acceptance {self.drs_min_acceptance:g}); the critic rejects almost"
                    " everything: try --drs-gamma p50, --drs-keep-training, or another sampler"
                )
            x = model.generate(model.latent(batch_size))
            logits = self._logits(model, x)
            # the paper's update: a larger logit than any seen so far becomes the new D~_M
            self.max_logit = max(self.max_logit, logits.max().item())
            scores = acceptance_scores(logits, self.max_logit, self.drs_eps)
            scores = scores - gamma_of(scores, mode, value)
            keep = torch.rand(scores.shape, device=scores.device, dtype=scores.dtype) < torch.sigmoid(scores)
            parts.append(x[keep])
            accepted += int(keep.sum().item())
            drawn += batch_size
            self.acceptance_rate, self.candidates = accepted / drawn, drawn
        return torch.cat(parts)[:n]
