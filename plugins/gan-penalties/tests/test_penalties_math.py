"""R1, R2 and the lazy schedule against values computed by hand on critics with known gradients."""

from __future__ import annotations

import pytest
import torch
from gan_penalties.lazy import LazySchedule
from gan_penalties.penalties import R1, R2
from torch import Tensor, nn

from gancore import CriticStepContext, DataSpec, GANModel, GeneratorStepContext

REAL = torch.tensor([[1.0, 2.0], [0.0, -1.0], [3.0, 0.5]])  # |x|^2 = 5, 1, 9.25
FAKE = torch.tensor([[-2.0, 0.0], [1.0, 1.0]])  # |x|^2 = 4, 2


class HalfSquare(nn.Module):
    """D(x) = a/2 |x|^2, so grad D(x) = a x and |grad D(x)|^2 = a^2 |x|^2."""

    def __init__(self, a: float = 1.0) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a))

    def forward(self, x: Tensor) -> Tensor:
        return self.a / 2 * x.square().sum(1)


def ctx_for(critic: nn.Module, step: int = 0) -> CriticStepContext:
    model = GANModel(nn.Identity(), critic, None, None, 2, DataSpec((2,), "points"), torch.device("cpu"))
    return CriticStepContext(model, REAL, torch.zeros(3, 2), FAKE, critic(REAL), critic(FAKE), step, 0)


def test_r1_by_hand():
    # gamma/2 * mean |x|^2 over the real batch = 10/2 * (5 + 1 + 9.25)/3
    assert R1().critic_term(ctx_for(HalfSquare())).item() == pytest.approx(5 * 15.25 / 3)
    assert R1(r1_gamma=2.0).critic_term(ctx_for(HalfSquare(3.0))).item() == pytest.approx(9 * 15.25 / 3)


def test_r2_by_hand():
    assert R2().critic_term(ctx_for(HalfSquare())).item() == pytest.approx(5 * (4 + 2) / 2)
    assert R2(r2_gamma=1.0).critic_term(ctx_for(HalfSquare(2.0))).item() == pytest.approx(0.5 * 4 * 3)


def test_r1_of_a_linear_critic_is_gamma_half_weight_norm_squared():
    critic = nn.Linear(2, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[3.0, 4.0]]))
    assert R1().critic_term(ctx_for(critic)).item() == pytest.approx(5 * 25)


def test_the_penalty_trains_the_critic_toward_a_flat_one():
    critic = HalfSquare(2.0)
    R1().critic_term(ctx_for(critic)).backward()
    # d/da [gamma/2 a^2 mean|x|^2] = gamma a mean|x|^2 = 10 * 2 * 15.25/3
    assert critic.a.grad.item() == pytest.approx(10 * 2 * 15.25 / 3)


def test_the_generator_side_adds_nothing():
    ctx = ctx_for(HalfSquare())
    gctx = GeneratorStepContext(ctx.model, REAL, ctx.z, FAKE, ctx.fake_out, 0, 0)
    assert R1().generator_term(gctx) is None and R2().generator_term(gctx) is None


def gates(schedule: LazySchedule, every: int, start: int, iterations: int, n_critic: int) -> list[float]:
    """The gate of every critic step of ``iterations`` iterations from step ``start``."""
    out = []
    for step in range(start, start + iterations):
        out += [schedule.gate(every, step, torch.device("cpu")).item() for _ in range(n_critic)]
        schedule.end_iteration()
    return out


def test_lazy_schedule_is_every_k_iterations_weighted_k():
    assert gates(LazySchedule(), 4, 0, 9, n_critic=1) == [4, 0, 0, 0, 4, 0, 0, 0, 4]
    # with two critic steps per iteration both steps of one iteration in k are penalised
    assert gates(LazySchedule(), 3, 0, 4, n_critic=2) == [3, 3, 0, 0, 0, 0, 3, 3]


def test_lazy_schedule_resumes_in_phase():
    whole = gates(LazySchedule(), 4, 0, 12, n_critic=2)
    # a resumed run starts a fresh schedule at the checkpoint's step: the same gates follow
    assert gates(LazySchedule(), 4, 0, 5, n_critic=2) + gates(LazySchedule(), 4, 5, 7, n_critic=2) == whole


def test_lazy_r1_is_the_plain_penalty_times_the_gate():
    critic, plain = HalfSquare(), R1().critic_term(ctx_for(HalfSquare())).item()
    lazy = R1(r1_every=2)
    terms = []
    for step in range(4):
        terms.append(lazy.critic_term(ctx_for(critic, step)).item())
        lazy.generator_term(
            GeneratorStepContext(ctx_for(critic).model, REAL, REAL, FAKE, FAKE[:, 0], step, 0)
        )
    assert terms == pytest.approx([2 * plain, 0.0, 2 * plain, 0.0])
    assert sum(terms) / 4 == pytest.approx(plain)  # the same strength on average


def test_r1_every_raised_mid_run_keeps_the_phase():
    # r1_every is an option a --schedule may change at an epoch boundary: the counter ran all along
    critic, plain = HalfSquare(), R1().critic_term(ctx_for(HalfSquare())).item()
    r1 = R1()
    gctx = GeneratorStepContext(ctx_for(critic).model, REAL, REAL, FAKE, FAKE[:, 0], 0, 0)
    terms = []
    for step in range(6):
        if step == 3:
            r1.r1_every = 2
        terms.append(r1.critic_term(ctx_for(critic, step)).item())
        r1.generator_term(gctx)
    assert terms == pytest.approx([plain, plain, plain, 0.0, 2 * plain, 0.0])  # step 4: even, weighted 2
