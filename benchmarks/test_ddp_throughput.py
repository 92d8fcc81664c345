"""Data-parallel throughput: `gan run --nproc 2` against one process, with the same global batch.

    nox -s bench -- -k ddp          # or: python -m pytest benchmarks/test_ddp_throughput.py --benchmark-only

Each case is a real `gan run` on the real MNIST (vanilla, MLP critic): 2 x ``STEPS`` generator steps,
a metrics row every ``STEPS``; the figure is the second row's steps/s (``it_s``), so start-up, data
loading and the first steps are left out and every step's all-reduces are in. On the CPU the
processes use gloo and one thread each; "1 process, 2 threads" is the fair single-process twin on a
2-core machine. On CUDA (2 GPUs or more) the same case runs one process per GPU with nccl.

Scaling efficiency = (steps/s on N processes) / (N x steps/s on one process), the global batch fixed
(strong scaling: each process does 1/N of every step). The terminal summary prints it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

STEPS = {"cpu": 100, "cuda": 1000}
#: (what, batch, device) -> steps/s measured in this session, for the summary
DDP_MEASURED: dict[tuple[str, int, str], float] = {}


def steady_rate(out: Path, root: Path, batch: int, device: str, nproc: int, threads: int) -> float:
    """Generator steps/s of a `gan run`'s second metrics window (start-up excluded)."""
    steps = STEPS[device]
    launcher = ["--nproc", str(nproc)] if nproc > 1 else []
    args = [
        sys.executable, "-m", "gancore", "run", *launcher, "--data-dir", str(root), "--device", device,
        "--loss", "vanilla", "--critic", "mlp", "--batch-size", str(batch),
        "--steps", str(2 * steps), "--log-every", str(steps), "--out", str(out),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "GANCORE_OFFLINE": "1"}
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return rows[-1]["it_s"]


@pytest.fixture(params=["cpu", "cuda"])
def ddp_device(request) -> str:
    if request.param == "cuda" and torch.cuda.device_count() < 2:
        pytest.skip("fewer than 2 CUDA devices")
    return request.param


CASES = {"1 process": (1, 1), "1 process, 2 threads": (1, 2), "2 processes": (2, 1)}


@pytest.mark.parametrize("batch", [64, 512])
@pytest.mark.parametrize("case", list(CASES))
def test_ddp_throughput(benchmark, case, batch, ddp_device, mnist_root, tmp_path):
    nproc, threads = CASES[case]
    if ddp_device == "cuda" and threads > 1:
        pytest.skip("threads matter on the CPU only")
    runs = iter(tmp_path / f"run-{i}" for i in range(10))
    rates: list[float] = []
    benchmark.pedantic(
        lambda: rates.append(steady_rate(next(runs), mnist_root, batch, ddp_device, nproc, threads)),
        rounds=1,
        warmup_rounds=0,
    )
    rate = rates[-1]
    DDP_MEASURED[case, batch, ddp_device] = rate
    benchmark.extra_info.update(steps_per_second=round(rate, 2), processes=nproc, threads=threads)
    single = DDP_MEASURED.get(("1 process", batch, ddp_device))
    if nproc > 1 and single:
        benchmark.extra_info["scaling_efficiency"] = round(rate / (nproc * single), 3)


def pytest_terminal_summary_lines() -> list[str]:
    """The table the conftest prints: steps/s per case and the 2-process scaling efficiency."""
    lines = []
    for (case, batch, device), rate in DDP_MEASURED.items():
        single = DDP_MEASURED.get(("1 process", batch, device))
        nproc = CASES[case][0]
        eff = f"{rate / (nproc * single):.2f}" if single and nproc > 1 else ""
        lines.append(f"{case:<24} batch {batch:<4} {device:<5} {rate:>10.1f} steps/s {eff:>6}")
    return lines
