"""Metropolis-Hastings GAN: Turner, Hung, Frank, Saatci & Yosinski, *Metropolis-Hastings Generative
Adversarial Networks*, ICML 2019.

The critic of a GAN at its optimum is D = p / (p + q) (p the data, q the generator's distribution),
so p(x) is proportional to q(x) (1/D(x) - 1)^-1. An independent Metropolis-Hastings chain with the
generator as its proposal (x' ~ G, independent of the current state x) therefore targets p: it
accepts x' with probability

    alpha(x, x') = min(1, (1/D(x) - 1) / (1/D(x') - 1))

and, unlike DRS, needs no bound on the density ratio. With D = sigmoid(l), 1/D - 1 = exp(-l), so
log alpha = min(0, l' - l): computed from the logits, nothing is divided and nothing under- or
overflows whatever the critic's confidence. K = ``--mh-steps`` proposals per chain (the paper's 640);
the chain's state after the K-th proposal is the sample. Chains run in parallel, a batch at a time,
on the model's device: each step is one generator and one critic call for the whole batch.

As the paper does:

- **Calibration.** The critic is calibrated first (``--mh-calibrate``, on): a logistic regression of
  its logit (its raw score for a loss without one) on held-out real vs generated samples (Platt
  scaling, shared with DRS in ``critic.py``). The paper finds MH-GAN only helps with a calibrated
  critic; it also reports isotonic regression and beta calibration, of which this is the logistic one.
- **The start.** A chain starts at a real sample (``--mh-init real``), which avoids burn-in: the
  chain begins where the target has mass. Only the start's calibrated logit enters the chain, so
  what ``prepare`` keeps is the logits of held-out real rows. A chain that accepts none of its K
  proposals would return its real start; it is restarted from a generated sample instead (K more
  proposals), so the output is always generated. ``--mh-init fake`` starts from a generated sample.
- Optionally (``--mh-keep-training``, off), a copy of the critic is first trained further on held-out
  data with the run's objective, as DRS's keep-training.

What ``prepare`` learns (the Platt pair, the real starts' logits and classes, the further-trained
critic) is its ``state_dict``, kept in the run folder by ``gan sample``/``gan eval`` as DRS's is.
A conditional model runs each chain within one class: the class of its real start (or one drawn
uniformly for a generated start), every proposal generated and scored for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import attrs
import torch
from torch import Tensor, nn

from gan_drs.critic import (
    calibration_scores,
    critic_state,
    fit_platt,
    generated_scores,
    keep_training,
    restored_critic,
)
from gancore import ConfigError, Data, GANModel, Sampler, option

#: a proposal function: () -> (samples, their calibrated logits), one per chain
Propose = Callable[[], tuple[Tensor, Tensor]]


def log_acceptance(current: Tensor, proposed: Tensor) -> Tensor:
    """log min(1, (1/D(x) - 1) / (1/D(x') - 1)) for D = sigmoid(logit): min(0, l' - l), exactly."""
    return (proposed - current).clamp(max=0.0)


def mh_chains(
    logit: Tensor, x: Tensor, propose: Propose, steps: int, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """``steps`` independent Metropolis-Hastings steps of every chain at once.

    ``logit`` (n,) and ``x`` (n, ...) are the chains' states; each step asks ``propose()`` for one
    proposal per chain and accepts it where log u < log alpha, u ~ U[0, 1) in float64 (from
    ``generator`` if given). Returns (states, their logits, accepted proposals per chain). Nothing is
    read back to the host.
    """
    accepted = torch.zeros(logit.shape, dtype=torch.long, device=logit.device)
    for _ in range(steps):
        x_new, l_new = propose()
        u = torch.rand(logit.shape, generator=generator, device=logit.device, dtype=torch.float64)
        take = u.log() < log_acceptance(logit, l_new)
        x = torch.where(take.view(-1, *[1] * (x.dim() - 1)), x_new, x)
        logit = torch.where(take, l_new, logit)
        accepted += take
    return x, logit, accepted


@attrs.define
class MetropolisHastings(Sampler):
    """MH-GAN (Turner et al. 2019): K steps of independent Metropolis-Hastings over G's samples.

    A proposal x' ~ G replaces the chain's state x with probability min(1, (1/D(x) - 1) / (1/D(x') - 1)),
    D the calibrated critic; the chain's last state is the sample.
    """

    name = "mh"
    needs_data: ClassVar[bool] = True

    mh_steps: int = option(
        640, help="proposals per chain, K (the paper's 640); the chain's last state is the sample",
        validator=attrs.validators.gt(0),
    )  # fmt: skip
    mh_init: str = option(
        "real",
        help="a chain's start: real (a held-out real sample, the paper's; a chain that never moves is"
        " restarted from a generated one) or fake (a generated sample)",
        validator=attrs.validators.in_(("real", "fake")),
    )
    mh_calibrate: bool = option(
        True, help="calibrate the critic's logit by logistic regression on held-out real vs generated data"
    )
    mh_keep_training: int = option(
        0, help="critic steps on held-out real data, generator frozen, before calibrating (0: none)",
        validator=attrs.validators.ge(0),
    )  # fmt: skip
    mh_lr: float = option(
        1e-4, help="Adam learning rate of --mh-keep-training", validator=attrs.validators.gt(0)
    )
    mh_batch_size: int = option(64, help="batch size of --mh-keep-training", validator=attrs.validators.gt(0))
    mh_holdout: float = option(
        0.1,
        help="fraction of the training data (its last rows) held out: calibration, real starts,"
        " keep-training",
        validator=[attrs.validators.gt(0.0), attrs.validators.le(1.0)],
    )

    # what the last sample measured (see stats)
    acceptance_rate: float | None = attrs.field(default=None, init=False)
    restarted: float | None = attrs.field(default=None, init=False)
    proposals: int = attrs.field(default=0, init=False)
    _critic: nn.Module | None = attrs.field(default=None, init=False, repr=False)
    _platt: tuple[float, float] | None = attrs.field(default=None, init=False, repr=False)
    _starts: Tensor | None = attrs.field(default=None, init=False, repr=False)  # real starts' logits
    _start_labels: Tensor | None = attrs.field(default=None, init=False, repr=False)
    _prepared: bool = attrs.field(default=False, init=False, repr=False)

    def stats(self) -> dict[str, float | int | None]:
        """The proposals' acceptance rate, the share of chains restarted from a generated sample, the
        proposals drawn, and whether the critic was calibrated (with its Platt pair)."""
        a, b = self._platt if self._platt is not None else (None, None)
        return {
            "acceptance_rate": self.acceptance_rate,
            "restarted": self.restarted,
            "proposals": self.proposals,
            "calibrated": self._platt is not None,
            "platt_a": a,
            "platt_b": b,
        }

    # -- preparation ---------------------------------------------------------------------------------

    def prepare(self, model: GANModel, data: Data | None) -> None:
        self._critic = model.critic
        if self.mh_keep_training:
            self._critic = keep_training(
                model, data, steps=self.mh_keep_training, lr=self.mh_lr, batch_size=self.mh_batch_size,
                fraction=self.mh_holdout, sampler="mh",
            )  # fmt: skip
        self._platt, self._starts, self._start_labels = None, None, None
        if self.mh_calibrate or self.mh_init == "real":
            why = "calibrate the critic and start chains at real samples"
            s_real, s_fake, real_labels = calibration_scores(
                model, self._critic, data, self.mh_holdout, "mh", why
            )
            if self.mh_calibrate:
                self._platt = fit_platt(self._features(model, s_real), self._features(model, s_fake))
            if self.mh_init == "real":
                self._starts = self._logits(model, s_real)
                self._start_labels = real_labels
        self._prepared = True
        self.acceptance_rate, self.restarted, self.proposals = None, None, 0

    def state_dict(self) -> dict[str, Tensor]:
        """The Platt pair, the real starts' logits (and classes), the further-trained critic's weights."""
        if not self._prepared:
            return {}
        state = {"prepared": torch.tensor(True)}
        if self._platt is not None:
            state["platt"] = torch.tensor(self._platt, dtype=torch.float64)
        if self._starts is not None:
            state["starts"] = self._starts.cpu()
        if self._start_labels is not None:
            state["start_labels"] = self._start_labels.cpu()
        state |= critic_state(self._critic, bool(self.mh_keep_training))
        return state

    def load_state_dict(self, state: dict[str, Tensor], model: GANModel) -> None:
        """What ``prepare`` learned for this model, without redoing it."""
        self._critic = restored_critic(state, model)
        self._platt = tuple(state["platt"].tolist()) if "platt" in state else None
        self._starts = state["starts"].to(model.device) if "starts" in state else None
        self._start_labels = state["start_labels"].to(model.device) if "start_labels" in state else None
        self._prepared = True
        self.acceptance_rate, self.restarted, self.proposals = None, None, 0

    def _features(self, model: GANModel, score: Tensor) -> Tensor:
        """What is calibrated: the loss's logit of the raw score, or the score for a loss without one."""
        logit = model.loss.logit(score)
        return score if logit is None else logit

    def _logits(self, model: GANModel, score: Tensor) -> Tensor:
        """The (calibrated) logit of real vs generated, float64."""
        features = self._features(model, score)
        if self._platt is None:
            return features.double()
        a, b = self._platt
        return a * features.double() + b

    def _check_ready(self, model: GANModel) -> None:
        if self._prepared:
            return
        if self.mh_calibrate or self.mh_init == "real":
            raise ConfigError(
                "sampler mh: --mh-calibrate and --mh-init real need held-out data: call prepare(model,"
                " data) first (gan sample and gan eval do), or use --no-mh-calibrate --mh-init fake"
            )
        if model.loss.logit(torch.zeros(1, device=model.device)) is None:
            raise ConfigError(
                f"sampler mh: the critic of loss {model.loss.name!r} is no logit of real vs fake;"
                " calibrate one (--mh-calibrate, after prepare(model, data))"
            )
        self._critic = model.critic

    # -- sampling ------------------------------------------------------------------------------------

    @torch.no_grad()
    def sample(self, model: GANModel, n: int, batch_size: int = 1000) -> Tensor:
        self._check_ready(model)
        parts, accepted, chains, restarted = [], 0, 0, 0
        for start in range(0, n, batch_size):
            x, took, ran, stuck = self._batch(model, min(batch_size, n - start))
            parts.append(x)
            accepted, chains, restarted = accepted + took, chains + ran, restarted + stuck
        self.proposals = chains * self.mh_steps
        self.acceptance_rate = accepted / self.proposals if self.proposals else None
        self.restarted = restarted / n if self.mh_init == "real" and n else None
        return torch.cat(parts)

    def _proposer(self, model: GANModel, labels: Tensor | None, m: int) -> Propose:
        critic = self._critic if self._critic is not None else model.critic

        def propose() -> tuple[Tensor, Tensor]:
            x, score = generated_scores(model, critic, m, labels)
            return x, self._logits(model, score)

        return propose

    def _from_generated(self, model: GANModel, labels: Tensor | None, m: int) -> tuple[Tensor, Tensor]:
        """``m`` chains started at a generated sample: (final states, proposals accepted per chain)."""
        propose = self._proposer(model, labels, m)
        x0, logit0 = propose()
        x, _, accepted = mh_chains(logit0, x0, propose, self.mh_steps)
        return x, accepted

    def _batch(self, model: GANModel, m: int) -> tuple[Tensor, int, int, int]:
        """``m`` chains' final states, with (proposals accepted, chains run, chains restarted)."""
        if self.mh_init == "fake":
            x, accepted = self._from_generated(model, model.labels(m), m)
            return x, int(accepted.sum()), m, 0
        rows = torch.randint(len(self._starts), (m,), device=self._starts.device)
        labels = self._start_labels[rows] if self._start_labels is not None and model.conditional else None
        # the real start's sample is never returned: its place holds NaN until a proposal is accepted
        placeholder = torch.full((m, *model.spec.shape), float("nan"), device=model.device)
        propose = self._proposer(model, labels, m)
        x, _, accepted = mh_chains(self._starts[rows], placeholder, propose, self.mh_steps)
        stuck = (accepted == 0).nonzero().squeeze(1)
        n_stuck = len(stuck)  # one host read per batch of chains
        total = accepted.sum()
        if n_stuck:  # the paper's restart: these chains never left their real start
            again, more = self._from_generated(model, None if labels is None else labels[stuck], n_stuck)
            x[stuck] = again
            total = total + more.sum()
        return x, int(total), m + n_stuck, n_stuck
