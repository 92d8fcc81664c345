"""Shared benchmark fixtures, and the gancore / plain-loop ratios printed at the end of every run.

Each throughput test records its steps/s under a key (what, loss, critic, batch, device); the
terminal summary pairs gancore's vanilla cases with the hand-written loop measured in the same run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gancore.testing import find_mnist

REPO = Path(__file__).resolve().parents[1]
#: (what, loss, critic, batch, device) -> steps per second, filled by the tests of this run
MEASURED: dict[tuple[str, str, str, int, str], float] = {}
PLAIN_TWIN = {"gancore": "plain", "gancore-epoch": "plain-epoch"}


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    root = find_mnist(REPO.parent / "shared" / "data")
    if root is None:
        pytest.skip("the real MNIST is not in ../shared/data or $GANCORE_DATA")
    return root


@pytest.fixture(params=["cpu", "cuda"])
def device(request) -> str:
    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    return request.param


def record(benchmark, key: tuple[str, str, str, int, str], steps_per_round: int) -> float:
    """Steps per second from the benchmark's median round, kept for the ratio table and the JSON."""
    rate = steps_per_round / benchmark.stats.stats.median
    benchmark.extra_info.update(steps_per_round=steps_per_round, steps_per_second=round(rate, 2))
    MEASURED[key] = rate
    return rate


def pytest_terminal_summary(terminalreporter) -> None:
    from benchmarks.test_ddp_throughput import pytest_terminal_summary_lines as ddp_lines

    if ddp_lines():
        terminalreporter.section("data-parallel: generator steps/s, scaling efficiency vs 1 process")
        for line in ddp_lines():
            terminalreporter.write_line(line)
    pairs = []
    for key, rate in MEASURED.items():
        twin = (PLAIN_TWIN.get(key[0], ""), key[1].split()[0], *key[2:])  # "vanilla bf16" vs vanilla
        if twin in MEASURED:
            pairs.append((key, MEASURED[twin], rate))
    if not pairs:
        return
    terminalreporter.section("gancore / plain loop, measured side by side")
    terminalreporter.write_line(f"{'case':<40} {'plain steps/s':>14} {'gancore steps/s':>16} {'ratio':>7}")
    for (what, loss, critic, batch, device), plain, ours in pairs:
        case = f"{what} {loss} {critic} batch {batch} {device}"
        terminalreporter.write_line(f"{case:<40} {plain:>14.1f} {ours:>16.1f} {ours / plain:>6.2f}x")
