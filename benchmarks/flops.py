"""FLOPs of one training step per benchmark case, counted op by op as the step runs.

    python -m benchmarks.flops

A step is what the throughput benchmarks time: one generator step with its critic steps. Every
matmul and convolution is counted (forward, backward and the penalty's double backward) with the
formulas of ``torch.utils.flop_counter``; elementwise work and the optimizers are memory-bound and not
counted. (FlopCounterMode itself cannot follow ``autograd.grad`` on a leaf, which the gradient penalty
needs, hence the small dispatch mode below.) docs/performance.md turns the counts into time.
"""

from __future__ import annotations

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from benchmarks.plain_loop import MNIST
from benchmarks.test_step_throughput import PIPELINES
from gancore.config import resolve
from gancore.plugins import get_registry
from gancore.train.assembly import make_optimizer
from gancore.train.pipeline import build
from gancore.train.stats import Stats
from gancore.train.steps import critic_step, generator_step


class CountFlops(TorchDispatchMode):
    """Adds up the FLOPs of every op that torch has a formula for, and counts the ops that compute
    (views and metadata excluded): on a GPU each of those is a kernel launch, or more."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0
        self.ops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if not func.is_view:
            self.ops += 1
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        return out


def step_counts(pipeline: str, critic: str, batch: int) -> tuple[int, int]:
    """(FLOPs, computing ops) of one step."""
    registry = get_registry()
    explicit = {**PIPELINES[pipeline], "critic": critic, "batch_size": batch, "device": "cpu"}
    config = resolve(registry, explicit, {})
    device = torch.device("cpu")
    pipe = build(config, registry, MNIST, device)
    opt_g = make_optimizer(config, pipe.generator_params, config.lr_g, 0.0, device)
    opt_d = make_optimizer(config, pipe.critic_params, config.lr_d, 0.0, device)
    real = torch.rand(batch, 1, 28, 28) * 2 - 1
    stats = Stats()

    def step() -> None:
        for _ in range(config.n_critic):
            critic_step(pipe, opt_d, real, 0, 0, stats)
        generator_step(pipe, opt_g, real, 0, 0, stats)

    step()  # the optimizers create their state in their first step
    with CountFlops() as counter:
        step()
    return counter.total, counter.ops


def main() -> None:
    print(f"{'pipeline':<10} {'critic':<6} {'batch':>5} {'GFLOP/step':>11} {'ops/step':>9}")
    for pipeline in PIPELINES:
        for critic in ("mlp", "conv"):
            for batch in (64, 512):
                flops, ops = step_counts(pipeline, critic, batch)
                print(f"{pipeline:<10} {critic:<6} {batch:>5} {flops / 1e9:>11.2f} {ops:>9}")


if __name__ == "__main__":
    main()
