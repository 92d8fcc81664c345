"""One optimizer step of the critic, one of the generator: nothing in them reads back to the host."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from gancore.records import CriticStepContext, GeneratorStepContext
from gancore.train import contracts
from gancore.train.pipeline import Pipeline
from gancore.train.stats import Stats


def grad_norm(params: Sequence[nn.Parameter], max_norm: float) -> Tensor:
    """Total gradient norm, clipping to ``max_norm`` first when it is positive."""
    if max_norm > 0:
        return torch.nn.utils.clip_grad_norm_(params, max_norm)
    return torch.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None])


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


def objective(
    pipe: Pipeline, ctx: CriticStepContext | GeneratorStepContext, adversarial: Tensor, side: str
) -> tuple[Tensor, Tensor | None, dict[str, Tensor], Tensor]:
    """The loss one side's optimizer step differentiates, the same way for the critic and the generator.

    ``side`` is "critic" or "generator": which weighting and regularizer methods are asked. Returns
    (the plain mean adversarial loss, its weighted mean or None, the regularizers' terms, the total).
    """
    if adversarial.ndim:  # per-sample losses, computed once: weightings read them from ctx
        ctx.losses = adversarial
    weights = [getattr(w, f"{side}_weights")(ctx) for _, w in pipe.weightings]
    adversarial, weighted = reduce_losses(adversarial, weights)
    optimised = adversarial if weighted is None else weighted
    method, suffix = f"{side}_term", "" if side == "critic" else "/g"
    terms = {
        f"reg/{name}{suffix}": term
        for name, reg in pipe.regs
        if (term := contracts.reg_term(getattr(reg, method)(ctx), reg, method)) is not None
    }
    total = optimised + sum(terms.values()) if terms else optimised
    return adversarial, weighted, terms, total


def critic_step(
    pipe: Pipeline,
    opt: torch.optim.Optimizer,
    real: Tensor,
    step: int,
    epoch: int,
    stats: Stats,
    labels: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """One optimizer step of the critic; returns (total loss, the detached fake batch, gradient norm).

    ``labels``: the real batch's classes, for a conditional model (None otherwise).
    """
    model, loss = pipe.model, pipe.loss
    z, fake_labels = pipe.world.draw(model, real.shape[0])  # labels: None for an unconditional model
    with pipe.autocast():
        with torch.no_grad():
            fake = pipe.generate(z, fake_labels).float()  # regularizers see float32 whatever the precision
        real_out, fake_out = pipe.score(real, labels).float(), pipe.score(fake, fake_labels).float()
        adversarial = contracts.loss_value(
            loss.critic_loss(real_out, fake_out), loss, "critic_loss", len(real)
        )
        ctx = CriticStepContext(
            model, real, z, fake, real_out, fake_out, step, epoch, real_labels=labels, fake_labels=fake_labels
        )
        adversarial, weighted, terms, total = objective(pipe, ctx, adversarial, "critic")
    opt.zero_grad(set_to_none=True)
    total.backward()
    pipe.world.average_gradients(pipe.critic_params)  # torchrun: the mean over the ranks' batches
    norm = grad_norm(pipe.critic_params, pipe.config.clip_grad)
    opt.step()
    pipe.critic_step.after_step(model.critic)
    if pipe.callbacks:
        with torch.no_grad():
            for _, callback in pipe.callbacks:
                callback.after_critic_step(model)
    with torch.no_grad():
        real_out, fake_out = real_out.detach(), fake_out.detach()
        stats.add(
            {
                "d_loss": adversarial,
                **({} if weighted is None else {"d_loss_weighted": weighted}),
                "d_acc_real": (real_out > loss.threshold).float().mean(),
                "d_acc_fake": (fake_out <= loss.threshold).float().mean(),
                "d_grad_norm": norm,
                **terms,
                **{f"loss/{k}": v for k, v in loss.diagnostics(real_out, fake_out).items()},
            }
        )
    return total, fake, norm


def generator_step(
    pipe: Pipeline,
    opt: torch.optim.Optimizer,
    real: Tensor,
    step: int,
    epoch: int,
    stats: Stats,
    labels: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """One optimizer step of the generator through a frozen critic; returns (total loss, gradient norm).

    ``labels``: the last real batch's classes, for a conditional model (None otherwise).
    """
    model, loss = pipe.model, pipe.loss
    z, fake_labels = pipe.world.draw(model, real.shape[0])  # labels: None for an unconditional model
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
            adversarial = contracts.loss_value(given, loss, "generator_loss", len(real))
            ctx = GeneratorStepContext(
                model, real, z, fake, fake_out, step, epoch,
                real_labels=labels, fake_labels=fake_labels, real_out=real_out,
            )  # fmt: skip
            adversarial, weighted, terms, total = objective(pipe, ctx, adversarial, "generator")
        opt.zero_grad(set_to_none=True)
        total.backward()
    finally:
        for p in pipe.critic_params:
            p.requires_grad_(True)
    pipe.world.average_gradients(pipe.generator_params)
    norm = grad_norm(pipe.generator_params, pipe.config.clip_grad)
    opt.step()
    if pipe.callbacks:
        with torch.no_grad():
            for _, callback in pipe.callbacks:
                callback.after_generator_step(model)
    weighted_stat = {} if weighted is None else {"g_loss_weighted": weighted}
    stats.add({"g_loss": adversarial, **weighted_stat, "g_grad_norm": norm, **terms})
    return total, norm
