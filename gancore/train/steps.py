"""The step as training takes it: the bare step (``step.py``), then the callbacks' ``after_*_step``
(told the step's result), then what both add to the metrics row's running sums. Nothing here
reads a value back to the host."""

from __future__ import annotations

import torch
from torch import Tensor

from gancore.records import CriticStepResult, GeneratorStepResult
from gancore.train import callbacks
from gancore.train import step as bare
from gancore.train.pipeline import Pipeline
from gancore.train.stats import Stats


def critic_step(
    pipe: Pipeline,
    opt: torch.optim.Optimizer,
    real: Tensor,
    step: int,
    epoch: int,
    stats: Stats,
    labels: Tensor | None = None,
) -> CriticStepResult:
    """One critic step of training (``labels``: the real batch's classes, for a conditional model)."""
    result = bare.critic_step(pipe, opt, real, step, epoch, labels)
    logged = callbacks.after_step(pipe, "after_critic_step", result) if pipe.callbacks else {}
    with torch.no_grad():
        stats.add(critic_statistics(result, pipe) | logged)
    return result


def generator_step(
    pipe: Pipeline,
    opt: torch.optim.Optimizer,
    real: Tensor,
    step: int,
    epoch: int,
    stats: Stats,
    labels: Tensor | None = None,
) -> GeneratorStepResult:
    """One generator step of training (``labels``: the last real batch's classes, for a conditional
    model)."""
    result = bare.generator_step(pipe, opt, real, step, epoch, labels)
    logged = callbacks.after_step(pipe, "after_generator_step", result) if pipe.callbacks else {}
    stats.add(generator_statistics(result) | logged)
    return result


def critic_statistics(result: CriticStepResult, pipe: Pipeline) -> dict[str, Tensor]:
    """A critic step's entries of the metrics row: its losses, how often the critic was right on
    each side of the loss's threshold, its gradient norm and the loss's own diagnostics."""
    losses, loss = result.losses, pipe.loss
    return {
        "d_loss": losses.adversarial,
        **({} if losses.weighted is None else {"d_loss_weighted": losses.weighted}),
        "d_acc_real": (result.real_out > loss.threshold).float().mean(),
        "d_acc_fake": (result.fake_out <= loss.threshold).float().mean(),
        "d_grad_norm": result.grad_norm,
        **losses.terms,
        **{f"loss/{k}": v for k, v in loss.diagnostics(result.real_out, result.fake_out).items()},
    }


def generator_statistics(result: GeneratorStepResult) -> dict[str, Tensor]:
    """A generator step's entries of the metrics row: its losses and its gradient norm."""
    losses = result.losses
    weighted = {} if losses.weighted is None else {"g_loss_weighted": losses.weighted}
    return {"g_loss": losses.adversarial, **weighted, "g_grad_norm": result.grad_norm, **losses.terms}
