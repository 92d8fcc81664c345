"""Training throughput: gancore's step against the hand-written loop, in the same run.

    nox -s bench                     # or: python -m pytest benchmarks --benchmark-only

Every case trains on the real MNIST (../shared/data or $GANCORE_DATA; skipped without it). A step
is one generator step with its critic steps (five for wgan-gp), gathered from the data on the
device exactly as `gan run` does (``Trainer.iteration``). Each round ends with the one host sync a
metrics row costs. Figures are steps per second (``steps_per_second`` in the saved JSON; the terminal
summary prints the gancore / plain-loop ratios). How to read them: docs/performance.md.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from benchmarks.conftest import record
from benchmarks.plain_loop import PlainLoop
from gancore.config import RunConfig, resolve
from gancore.io.rundir import RunDir
from gancore.plugins import get_registry
from gancore.train.assembly import Place, assemble
from gancore.train.loop import SilentReporter, Trainer, epoch_permutation
from gancore.train.runs import start
from gancore.train.stats import Stats

PIPELINES = {
    "vanilla": {"loss": "vanilla"},
    "wgan-gp": {"loss": "wgan-gp"},
    "fgan-kl": {"loss": "fgan-kl"},
    "lsgan+icr": {"loss": "lsgan", "regs": ["icr"]},
}


def settings(pipeline: str, critic: str, batch: int, device: str, root: Path, **more):
    explicit = {**PIPELINES[pipeline], "critic": critic, "batch_size": batch, "device": device}
    return resolve(get_registry(), {**explicit, "data_dir": str(root), **more}, {})


def steps_per_round(device: str, batch: int, n_critic: int) -> int:
    """About a tenth of a second to a second of work per round, whatever the case."""
    base = {("cpu", 64): 10, ("cpu", 512): 2, ("cuda", 64): 300, ("cuda", 512): 100}[device, batch]
    return max(1, base // n_critic)


def epoch_rounds(device: str) -> dict[str, int]:
    """A CPU epoch takes most of a minute: one round; on a GPU, three after a warm-up."""
    return {"rounds": 1, "warmup_rounds": 0} if device == "cpu" else {"rounds": 3, "warmup_rounds": 1}


@pytest.mark.parametrize("critic", ["mlp", "conv"])
@pytest.mark.parametrize("batch", [64, 512])
@pytest.mark.parametrize("pipeline", list(PIPELINES))
def test_gancore_step(benchmark, pipeline, critic, batch, device, mnist_root, tmp_path):
    measure_gancore(benchmark, pipeline, critic, batch, device, mnist_root, tmp_path)


def step_runner(config: RunConfig, folder: Path) -> Callable[[int], None]:
    """``steps(n)``: n more generator steps of gancore's loop body on the first epoch's order, then the
    one sync a metrics row costs (it also waits for the device to finish)."""
    assembly = assemble(config, get_registry(), Place.resolve(config))
    trainer = Trainer(assembly, RunDir(folder), SilentReporter())
    per_epoch = trainer.steps_per_epoch()
    perm = epoch_permutation(len(trainer.data), config.seed, 0, trainer.pipe.model.device)
    stats, done = Stats(), [0]

    def steps(n: int) -> None:
        for _ in range(n):
            step = done[0]
            trainer.iteration(perm, step % per_epoch, step, 0, stats)
            done[0] += 1
        stats.read()

    return steps


def measure_gancore(benchmark, pipeline, critic, batch, device, root, tmp_path, **speed) -> None:
    """``speed``: the speed settings of the case (precision, compile, cuda_graphs), named in its key."""
    config = settings(pipeline, critic, batch, device, root, **speed)
    steps = step_runner(config, tmp_path / "run")
    n = steps_per_round(device, batch, config.n_critic)
    # compiling and recording happen in the warm-up rounds
    benchmark.pedantic(steps, args=(n,), rounds=5, warmup_rounds=2)
    name = " ".join([pipeline, *(str(v) if k == "precision" else k for k, v in speed.items() if v)])
    record(benchmark, ("gancore", name, critic, batch, device), n)


@pytest.mark.parametrize("critic", ["mlp", "conv"])
@pytest.mark.parametrize("batch", [64, 512])
def test_gancore_step_bf16(benchmark, critic, batch, device, mnist_root, tmp_path):
    """The vanilla cases again with ``--precision bf16`` (bfloat16 autocast of the forward passes)."""
    measure_gancore(benchmark, "vanilla", critic, batch, device, mnist_root, tmp_path, precision="bf16")


@pytest.mark.parametrize("critic", ["mlp", "conv"])
@pytest.mark.parametrize("batch", [64, 512])
@pytest.mark.parametrize("pipeline", ["vanilla", "wgan-gp"])
def test_gancore_step_compiled(benchmark, pipeline, critic, batch, device, mnist_root, tmp_path):
    """``--compile``: the step's generator and critic passes through torch.compile."""
    measure_gancore(benchmark, pipeline, critic, batch, device, mnist_root, tmp_path, compile=True)


@pytest.mark.parametrize("critic", ["mlp", "conv"])
@pytest.mark.parametrize("batch", [64, 512])
@pytest.mark.parametrize("pipeline", list(PIPELINES))
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_gancore_step_cuda_graphs(benchmark, pipeline, critic, batch, compiled, mnist_root, tmp_path):
    """``--cuda-graphs`` (with and without ``--compile``): the whole iteration replayed as one graph."""
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    speed = {"compile": compiled, "cuda_graphs": True}
    measure_gancore(benchmark, pipeline, critic, batch, "cuda", mnist_root, tmp_path, **speed)


@pytest.mark.parametrize("critic", ["mlp", "conv"])
@pytest.mark.parametrize("batch", [64, 512])
def test_plain_loop_step(benchmark, critic, batch, device, mnist_root):
    loop = PlainLoop(mnist_root, critic, batch, device)
    n = steps_per_round(device, batch, 1)
    benchmark.pedantic(loop.steps, args=(n,), rounds=5, warmup_rounds=2)  # .item() syncs every step
    record(benchmark, ("plain", "vanilla", critic, batch, device), n)


def test_gancore_epoch(benchmark, device, mnist_root, tmp_path):
    """One full MNIST epoch of `gan run` at batch 64: data load, steps, grid, checkpoint, config."""
    config = settings("vanilla", "mlp", 64, device, mnist_root, epochs=1)
    folders = iter(tmp_path / f"run-{i}" for i in range(100))

    def epoch() -> None:
        start(config, next(folders))
        if device == "cuda":
            torch.cuda.synchronize()

    benchmark.pedantic(epoch, **epoch_rounds(device))
    record(benchmark, ("gancore-epoch", "vanilla", "mlp", 64, device), 60_000 // 64)


def test_plain_loop_epoch(benchmark, device, mnist_root):
    loop = PlainLoop(mnist_root, "mlp", 64, device)
    benchmark.pedantic(loop.epoch, **epoch_rounds(device))
    record(benchmark, ("plain-epoch", "vanilla", "mlp", 64, device), 60_000 // 64)
