"""The training step, bare: one optimizer step of the critic, one of the generator.

This is the math and nothing else, readable top to bottom. What training wraps around it (the
callbacks, the statistics of the metrics row) is in ``steps.py``; a sampler that trains the critic
further takes the bare critic step (``objective.py``). Nothing here reads a value back to the host.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from gancore.records import (
    CriticStepContext,
    CriticStepResult,
    GeneratorStepContext,
    GeneratorStepResult,
    StepLosses,
)
from gancore.train import contracts
from gancore.train.pipeline import Pipeline


def critic_step(
    pipe: Pipeline,
    opt: torch.optim.Optimizer,
    real: Tensor,
    step: int,
    epoch: int,
    labels: Tensor | None = None,
) -> CriticStepResult:
    """One optimizer step of the critic on ``real`` against fresh fakes (``labels``: the real batch's
    classes for a conditional model, else None)."""
    model, loss = pipe.model, pipe.loss
    z, fake_labels = pipe.world.draw(model, real.shape[0])  # labels: None for an unconditional model
    with pipe.autocast():
        with torch.no_grad():
            fake = pipe.generate(z, fake_labels).float()  # regularizers see float32 whatever the precision
        real_out, fake_out = pipe.score(real, labels).float(), pipe.score(fake, fake_labels).float()
        ctx = CriticStepContext(
            model, real, z, fake, real_out, fake_out, step, epoch, real_labels=labels, fake_labels=fake_labels
        )
        losses = objective(pipe, ctx, loss.critic_loss(real_out, fake_out), "critic_loss")
    norm = update(pipe, opt, losses.total, pipe.critic_params)
    pipe.critic_step.after_step(model.critic)  # e.g. WGAN's weight clipping
    return CriticStepResult(losses, real_out.detach(), fake_out.detach(), fake, norm)


def generator_step(
    pipe: Pipeline,
    opt: torch.optim.Optimizer,
    real: Tensor,
    step: int,
    epoch: int,
    labels: Tensor | None = None,
) -> GeneratorStepResult:
    """One optimizer step of the generator through a frozen critic (``real``, ``labels``: the last
    real batch and its classes, for a relativistic loss and a conditional model)."""
    model, loss = pipe.model, pipe.loss
    z, fake_labels = pipe.world.draw(model, real.shape[0])
    for p in pipe.critic_params:  # no weight gradients for the critic in this step
        p.requires_grad_(False)
    try:
        with pipe.autocast():
            fake = pipe.generate(z, fake_labels).float()
            fake_out = pipe.score(fake, fake_labels).float()
            real_out = None
            if loss.needs_real_out:  # a relativistic loss compares the fakes with the real batch
                real_out = pipe.score(real, labels).float().detach()
                given = loss.generator_loss(fake_out, real_out)
            else:
                given = loss.generator_loss(fake_out)
            ctx = GeneratorStepContext(
                model, real, z, fake, fake_out, step, epoch,
                real_labels=labels, fake_labels=fake_labels, real_out=real_out,
            )  # fmt: skip
            losses = objective(pipe, ctx, given, "generator_loss")
        norm = update(pipe, opt, losses.total, pipe.generator_params)
    finally:
        for p in pipe.critic_params:
            p.requires_grad_(True)
    return GeneratorStepResult(losses, fake_out.detach(), norm)


def objective(
    pipe: Pipeline, ctx: CriticStepContext | GeneratorStepContext, given: Tensor, method: str
) -> StepLosses:
    """What one side's step differentiates: the loss ``method`` gave (checked: a scalar or one value
    per sample), weighted by the weightings, plus the regularizers' terms. The same for both sides:
    ``method`` ("critic_loss" or "generator_loss") says which weighting and regularizer methods are
    asked."""
    side = method.removesuffix("_loss")
    adversarial = contracts.loss_value(given, pipe.loss, method, len(ctx.real))
    if adversarial.ndim:  # per-sample losses, computed once: weightings read them from ctx
        ctx.losses = adversarial
    weights = [getattr(w, f"{side}_weights")(ctx) for _, w in pipe.weightings]
    adversarial, weighted = reduce_losses(adversarial, weights)
    optimised = adversarial if weighted is None else weighted
    term, suffix = f"{side}_term", "" if side == "critic" else "/g"
    terms = {
        f"reg/{name}{suffix}": value
        for name, reg in pipe.regs
        if (value := contracts.reg_term(getattr(reg, term)(ctx), reg, term)) is not None
    }
    total = optimised + sum(terms.values()) if terms else optimised
    return StepLosses(adversarial, weighted, terms, total)


def reduce_losses(adversarial: Tensor, weights: list[Tensor | None]) -> tuple[Tensor, Tensor | None]:
    """(the plain mean adversarial loss, the weighted mean to optimise or None) of a step's loss.

    A scalar loss passes through untouched: a step without per-sample losses pays no extra op. For
    per-sample losses (shape (n,): a static shape, so no host read) ``weights`` are the weightings'
    answers, asked after ``ctx.losses`` is set; with none the plain mean is what is optimised.
    """
    if adversarial.ndim == 0:
        return adversarial, None
    given = [w for w in weights if w is not None]
    if not given:
        return adversarial.mean(), None
    w = given[0]
    for more in given[1:]:
        w = w * more
    w = w.detach()
    return adversarial.detach().mean(), (w * adversarial).sum() / w.sum()


def update(
    pipe: Pipeline, opt: torch.optim.Optimizer, total: Tensor, params: Sequence[nn.Parameter]
) -> Tensor:
    """Differentiate ``total``, average the gradients over the processes (torchrun), clip them
    (``--clip-grad``) and take the optimizer's step on ``params``; returns their gradient norm."""
    opt.zero_grad(set_to_none=True)
    total.backward()
    pipe.world.average_gradients(params)  # torchrun: the mean over the ranks' batches
    norm = grad_norm(params, pipe.config.clip_grad)
    opt.step()
    return norm


def grad_norm(params: Sequence[nn.Parameter], max_norm: float) -> Tensor:
    """Total gradient norm, clipping to ``max_norm`` first when it is positive."""
    if max_norm > 0:
        return torch.nn.utils.clip_grad_norm_(params, max_norm)
    return torch.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None])
