"""Training-step throughput of the engine (one generator step with its critic steps per round).

Run with `nox -s bench`. The numbers are steps per second (pytest-benchmark reports rounds/s as OPS).
"""

from __future__ import annotations

import pytest
import torch

from gancore.config import resolve
from gancore.engine import Stats, critic_step, generator_step
from gancore.pipeline import build, make_optimizer
from gancore.plugins import get_registry
from gancore.records import DataSpec

MNIST = DataSpec((1, 28, 28), "image", num_classes=10)


def make_step(device: str, loss: str, critic: str, batch: int):
    registry = get_registry()
    config = resolve(registry, {"loss": loss, "critic": critic, "batch_size": batch, "device": device}, {})
    dev = torch.device(device)
    pipe = build(config, registry, MNIST, dev)
    opt_g = make_optimizer(config, pipe.generator_params, config.lr_g, 0.0, dev)
    opt_d = make_optimizer(config, pipe.critic_params, config.lr_d, 0.0, dev)
    data = torch.randint(0, 256, (batch * 16, 1, 28, 28), dtype=torch.uint8, device=dev)
    stats = Stats()

    def step(i: int = 0) -> None:
        real = data[(i % 16) * batch : (i % 16 + 1) * batch].float().div(127.5).sub(1)
        for _ in range(config.n_critic):
            critic_step(pipe, opt_d, real, i, 0, stats)
        generator_step(pipe, opt_g, real, i, 0, stats)

    return step


@pytest.mark.parametrize("critic", ["mlp", "conv"])
@pytest.mark.parametrize("batch", [64, 512])
def test_vanilla_step(benchmark, device, critic, batch):
    step = make_step(device, "vanilla", critic, batch)
    for i in range(5):  # warm-up: allocator, cuDNN autotuning
        step(i)

    def ten_steps():
        for i in range(10):
            step(i)
        if device == "cuda":
            torch.cuda.synchronize()

    benchmark.pedantic(ten_steps, rounds=10, warmup_rounds=1)
    benchmark.extra_info["steps_per_round"] = 10
