"""What the critic-guided samplers share: held-out data, a further-trained critic, scores in batches, and
the Platt calibration of a critic's output into a logit of real vs generated.

DRS (``drs.py``) and MH-GAN (``mh.py``) both read the critic as a density ratio: at the optimum of the
GAN critic, D = p / (p + q), so its logit is log p/q. A critic at the end of adversarial training is
near equilibrium with the generator and poorly calibrated; both papers correct it on held-out data:
by training it further (DRS's keep-training) and by a logistic fit of its output (MH-GAN's
calibration, which DRS also needs for a critic whose output is no logit).
"""

from __future__ import annotations

import copy
import math

import torch
from torch import Tensor, nn

from gancore import ConfigError, Data, GANModel

BATCH = 1000  # rows per critic (and generator) call outside the training step
CALIBRATION_SIZE = 10_000  # held-out real and as many generated samples fit the Platt logit


def frozen(critic: nn.Module) -> nn.Module:
    """A critic only read from now on: eval mode, no gradients."""
    critic.eval()
    for p in critic.parameters():
        p.requires_grad_(False)
    return critic


def critic_state(critic: nn.Module | None, kept: bool) -> dict[str, Tensor]:
    """A sampler's own critic (when it trained one further) as state tensors under ``critic.``."""
    if not kept or critic is None:
        return {}
    return {f"critic.{k}": v for k, v in critic.state_dict().items()}


def restored_critic(state: dict[str, Tensor], model: GANModel) -> nn.Module:
    """The critic a sampler scores with: its own saved copy when the state holds one, else the run's."""
    weights = {k.removeprefix("critic."): v for k, v in state.items() if k.startswith("critic.")}
    if not weights:
        return model.critic
    critic = frozen(copy.deepcopy(model.critic))
    critic.load_state_dict(weights)
    return critic


def held_out(
    model: GANModel, data: Data | None, fraction: float, sampler: str, why: str
) -> tuple[Tensor, Tensor | None]:
    """The last ``fraction`` of the training rows, and their labels for a conditional model.

    gancore keeps only the training split, so its tail stands in for the papers' held-out data.
    """
    if data is None:
        raise ConfigError(f"sampler {sampler} needs the run's dataset to {why}, but none was given to it")
    n_held = max(1, math.ceil(fraction * len(data)))
    labels = data.labels[len(data) - n_held :] if model.conditional else None
    return data.x[len(data) - n_held :], labels


#: what a further-trained critic minimises: the run's own critic objective, or the logistic loss
KEEP_OBJECTIVES = ("run", "logistic")


def logistic_step(
    model: GANModel, critic: nn.Module, opt: torch.optim.Optimizer, real: Tensor, labels: Tensor | None
) -> Tensor:
    """One step of the logistic (real vs generated) loss, softplus(-D(real)) + softplus(D(fake)),
    whose optimum is the logit log p/q that DRS and MH read, whatever loss trained the critic."""
    fake_labels = model.labels(real.shape[0])
    with torch.no_grad():
        fake = model.generate(model.latent(real.shape[0]), fake_labels)
    real_out = model.score_clean(real, labels, critic)
    fake_out = model.score_clean(fake, fake_labels, critic)
    loss = nn.functional.softplus(-real_out).mean() + nn.functional.softplus(fake_out).mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.detach()


def keep_training(
    model: GANModel,
    data: Data | None,
    *,
    steps: int,
    lr: float,
    batch_size: int,
    fraction: float,
    sampler: str,
    objective: str = "run",
) -> nn.Module:
    """A copy of the critic trained on (held-out real, frozen-generator fake) batches.

    ``objective="run"``: the run's critic objective (``model.train_critic``): its loss, and its
    regularizers (a gradient penalty), gradient clipping and critic constraint (weight clipping,
    spectral normalization), so the critic stays the kind of critic the run trained.
    ``objective="logistic"``: the logistic loss alone (``logistic_step``), which turns a critic that
    is a score (WGAN's) into an estimate of log p/q of the sampled generator.

    The copy leaves the run's own critic untouched (the per-epoch evaluation samples mid-training).
    """
    held, held_labels = held_out(model, data, fraction, sampler, "keep training the critic")
    n_held = len(held)
    critic = copy.deepcopy(model.critic)
    critic.train()
    for p in critic.parameters():
        p.requires_grad_(True)
    opt = torch.optim.Adam(critic.parameters(), lr=lr, betas=(0.5, 0.999))
    for _ in range(steps):
        idx = torch.randint(n_held, (batch_size,), device=held.device)
        real = data.decode(held[idx]).to(model.device)
        labels = None if held_labels is None else held_labels[idx].to(model.device)
        if objective == "logistic":
            logistic_step(model, critic, opt, real, labels)
        else:  # for a loss with a logit, the critic stays at the optimum that loss.logit reads as log p/q
            model.train_critic(critic, opt, real, labels)
    return frozen(critic)


def scores(model: GANModel, critic: nn.Module, x: Tensor, labels: Tensor | None) -> Tensor:
    """``critic``'s raw scores of ``x`` (for ``labels`` when conditional), in batches, as float64."""
    chunks = x.split(BATCH)
    classes = [None] * len(chunks) if labels is None else labels.split(BATCH)
    return torch.cat([model.score_clean(b, y, critic) for b, y in zip(chunks, classes, strict=True)]).double()


def generated_scores(
    model: GANModel, critic: nn.Module, m: int, labels: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """``m`` samples of the model and their scores: for ``labels``, else for uniformly drawn classes
    when conditional."""
    labels = model.labels(m) if labels is None else labels
    x = model.generate(model.latent(m), labels)
    return x, scores(model, critic, x, labels)


@torch.no_grad()
def calibration_scores(
    model: GANModel, critic: nn.Module, data: Data | None, fraction: float, sampler: str, why: str
) -> tuple[Tensor, Tensor, Tensor | None]:
    """(scores of up to ``CALIBRATION_SIZE`` held-out real rows, of as many generated samples, the real
    rows' labels for a conditional model), each real row scored for its own class."""
    held, held_labels = held_out(model, data, fraction, sampler, why)
    n = min(len(held), CALIBRATION_SIZE)
    rows = torch.randperm(len(held), device=held.device)[:n]
    real = data.decode(held[rows]).to(model.device)
    real_labels = None if held_labels is None else held_labels[rows].to(model.device)
    s_real = scores(model, critic, real, real_labels)
    s_fake = torch.cat([generated_scores(model, critic, min(BATCH, n - i))[1] for i in range(0, n, BATCH)])
    return s_real, s_fake, real_labels


@torch.enable_grad()
def fit_platt(real: Tensor, fake: Tensor) -> tuple[float, float]:
    """Platt scaling: (a, b) of the logit a * s + b that best separates ``real`` from ``fake`` scores
    (logistic regression, BCE, LBFGS, in float64).

    With balanced classes its optimum is log p/q whenever that is affine in the score: it undoes a
    critic that is over- or under-confident (a scale) or biased (a shift), and turns a score that is
    no logit (WGAN's) into the closest logit of that form.
    """
    # fit on standardised scores (well conditioned), then fold the standardisation back in
    both = torch.cat([real, fake]).double().detach()
    mu, sd = both.mean(), both.std().clamp_min(1e-12)
    r, f = (real.double().detach() - mu) / sd, (fake.double().detach() - mu) / sd
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
