"""Discriminator rejection sampling (Azadi, Olsson, Darrell, Goodfellow & Odena, ICLR 2019).

What ``prepare`` learns (the further-trained critic, the Platt calibration, the estimate of D~_M) is
its ``state_dict``, which ``gan sample``/``gan eval`` keep in the run folder and hand back through
``load_state_dict`` while the options and the checkpoint stay the same. A conditional model is
sampled over its classes drawn uniformly, each sample scored for the class it was generated for.
"""

from __future__ import annotations

import copy
import math
from typing import Any, ClassVar

import attrs
import torch
from torch import Tensor, nn

from gancore import ConfigError, Data, GANModel, Sampler, option

BURN_IN_BATCH = 1000
CALIBRATION_SIZE = 10_000  # held-out real and as many generated samples fit the Platt logit


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


def frozen(critic: nn.Module) -> nn.Module:
    """A critic only read from now on: eval mode, no gradients."""
    critic.eval()
    for p in critic.parameters():
        p.requires_grad_(False)
    return critic


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

    # what the last prepare/sample measured (read them after `gancore.tools.sampling.draw` or in tests)
    max_logit: float | None = attrs.field(default=None, init=False)
    acceptance_rate: float | None = attrs.field(default=None, init=False)
    candidates: int = attrs.field(default=0, init=False)
    _critic: nn.Module | None = attrs.field(default=None, init=False, repr=False)
    _platt: tuple[float, float] | None = attrs.field(default=None, init=False, repr=False)

    def stats(self) -> dict[str, float | int | None]:
        """The numbers worth reporting: acceptance rate, candidates drawn, the estimate of D~_M."""
        return {
            "acceptance_rate": self.acceptance_rate,
            "candidates": self.candidates,
            "max_logit": self.max_logit,
            "calibrated": self._platt is not None,
        }

    # -- preparation ---------------------------------------------------------------------------------

    def prepare(self, model: GANModel, data: Data | None) -> None:
        self._critic = model.critic
        if self.drs_keep_training:
            self._critic = self._keep_training(model, data)
        self._platt = None if self._has_logit(model) else self._calibrate(model, data)
        self.max_logit = self._burn_in(model)
        self.acceptance_rate, self.candidates = None, 0

    def state_dict(self) -> dict[str, Tensor]:
        """D~_M, the Platt pair when calibrated, the further-trained critic's weights when trained."""
        if self.max_logit is None:
            return {}
        state = {"max_logit": torch.tensor(self.max_logit, dtype=torch.float64)}
        if self._platt is not None:
            state["platt"] = torch.tensor(self._platt, dtype=torch.float64)
        if self.drs_keep_training and self._critic is not None:
            state |= {f"critic.{k}": v for k, v in self._critic.state_dict().items()}
        return state

    def load_state_dict(self, state: dict[str, Tensor], model: GANModel) -> None:
        """What ``prepare`` learned for this model, without redoing it."""
        self._critic = model.critic
        weights = {k.removeprefix("critic."): v for k, v in state.items() if k.startswith("critic.")}
        if weights:
            self._critic = frozen(copy.deepcopy(model.critic))
            self._critic.load_state_dict(weights)
        self._platt = tuple(state["platt"].tolist()) if "platt" in state else None
        self.max_logit = float(state["max_logit"])
        self.acceptance_rate, self.candidates = None, 0

    @staticmethod
    def _has_logit(model: GANModel) -> bool:
        return model.loss.logit(torch.zeros(1, device=model.device)) is not None

    def _require_logit(self, model: GANModel) -> None:
        if not self._has_logit(model):
            raise ConfigError(
                f"sampler drs: the critic of loss {model.loss.name!r} is no logit of real vs fake, and"
                " sampling without prepare(model, data) leaves no data to calibrate one on"
            )

    def _held_out(self, model: GANModel, data: Data | None, why: str) -> tuple[Tensor, Tensor | None]:
        """The last ``drs_holdout`` of the training rows, and their labels for a conditional model."""
        if data is None:
            raise ConfigError(f"sampler drs needs the run's dataset to {why}, but none was given to it")
        n_held = max(1, math.ceil(self.drs_holdout * len(data)))
        labels = data.labels[len(data) - n_held :] if model.conditional else None
        return data.x[len(data) - n_held :], labels

    @torch.enable_grad()
    def _calibrate(self, model: GANModel, data: Data | None) -> tuple[float, float]:
        """Platt scaling: the logit a * D(x) + b that best separates held-out real from generated data.

        For a critic whose output is a score but no logit (WGAN's, say), the logistic fit of
        (real, fake) on the score is the closest logit of the form DRS needs; with balanced classes
        its optimum is log p/q whenever that is affine in the score.
        """
        held, held_labels = self._held_out(model, data, "calibrate a logit for a critic that has none")
        n = min(len(held), CALIBRATION_SIZE)
        with torch.no_grad():
            rows = torch.randperm(len(held), device=held.device)[:n]
            real = data.decode(held[rows]).to(model.device)
            real_labels = None if held_labels is None else held_labels[rows].to(model.device)
            s_real = self._scores(model, real, real_labels)
            s_fake = torch.cat(
                [
                    self._generated_scores(model, min(BURN_IN_BATCH, n - i))[1]
                    for i in range(0, n, BURN_IN_BATCH)
                ]
            )
        # fit on standardised scores (well conditioned), then fold the standardisation back in
        mu, sd = torch.cat([s_real, s_fake]).mean(), torch.cat([s_real, s_fake]).std().clamp_min(1e-12)
        r, f = (s_real - mu) / sd, (s_fake - mu) / sd
        ab = torch.tensor([1.0, 0.0], dtype=torch.float64, device=r.device, requires_grad=True)
        opt = torch.optim.LBFGS([ab], max_iter=200, line_search_fn="strong_wolfe")

        def bce() -> Tensor:
            opt.zero_grad()
            loss = (
                nn.functional.softplus(-(ab[0] * r + ab[1])).mean()
                + nn.functional.softplus(ab[0] * f + ab[1]).mean()
            )
            loss.backward()
            return loss

        opt.step(bce)
        a, b = ab.detach().tolist()
        return a / sd.item(), b - a * mu.item() / sd.item()

    def _keep_training(self, model: GANModel, data: Data | None) -> nn.Module:
        """A copy of the critic trained on (held-out real, frozen-generator fake) batches with the run's
        critic objective (``model.train_critic``): its loss, and its regularizers (a gradient
        penalty), gradient clipping and critic constraint (weight clipping, spectral normalization),
        so the critic stays the kind of critic the run trained.

        The copy leaves the run's own critic untouched (the per-epoch evaluation samples mid-training).
        """
        held, held_labels = self._held_out(model, data, "keep training the critic")
        n_held = len(held)
        critic = copy.deepcopy(model.critic)
        critic.train()
        for p in critic.parameters():
            p.requires_grad_(True)
        opt = torch.optim.Adam(critic.parameters(), lr=self.drs_lr, betas=(0.5, 0.999))
        for _ in range(self.drs_keep_training):
            idx = torch.randint(n_held, (self.drs_batch_size,), device=held.device)
            real = data.decode(held[idx]).to(model.device)
            labels = None if held_labels is None else held_labels[idx].to(model.device)
            # for a loss with a logit, the critic stays at the optimum that loss.logit reads as log p/q
            model.train_critic(critic, opt, real, labels)
        return frozen(critic)

    def _scores(self, model: GANModel, x: Tensor, labels: Tensor | None) -> Tensor:
        """The (possibly further-trained) critic's raw scores, in batches, as float64."""
        critic = self._critic if self._critic is not None else model.critic
        chunks = x.split(BURN_IN_BATCH)
        classes = [None] * len(chunks) if labels is None else labels.split(BURN_IN_BATCH)
        return torch.cat(
            [model.score_clean(b, y, critic) for b, y in zip(chunks, classes, strict=True)]
        ).double()

    def _generated_scores(self, model: GANModel, m: int) -> tuple[Tensor, Tensor]:
        """``m`` samples of the model (for uniformly drawn classes when conditional) and their scores."""
        labels = model.labels(m)
        x = model.generate(model.latent(m), labels)
        return x, self._scores(model, x, labels)

    @torch.no_grad()
    def _logits(self, model: GANModel, score: Tensor) -> Tensor:
        if self._platt is not None:
            a, b = self._platt
            return a * score + b
        return model.loss.logit(score)

    @torch.no_grad()
    def _burn_in(self, model: GANModel) -> float:
        best = -math.inf
        for start in range(0, self.drs_burn_in, BURN_IN_BATCH):
            m = min(BURN_IN_BATCH, self.drs_burn_in - start)
            best = max(best, self._logits(model, self._generated_scores(model, m)[1]).max().item())
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
            x, score = self._generated_scores(model, batch_size)
            logits = self._logits(model, score)
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
