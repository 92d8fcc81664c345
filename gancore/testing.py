"""Helpers for plugin authors' tests: train through the real CLI, check a package installs alone.

from gancore.testing import installs_alone, single_thread, train

def test_trains(tmp_path):
    with single_thread():
        rows = train(tmp_path / "run", "--loss", "hinge", "--steps", "300")
    assert all(math.isfinite(r["d_loss"]) for r in rows)
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Tiny test networks run faster on one thread and never stall behind another process's OpenMP."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def find_mnist(fallback: Path) -> Path | None:
    """A folder holding the real MNIST (``MNIST/raw``, train and test): ``$GANCORE_DATA``, else
    ``fallback``; None when neither has it (tests and benchmarks that need it skip)."""
    for candidate in (os.environ.get("GANCORE_DATA"), fallback):
        raw = Path(candidate or "") / "MNIST" / "raw"
        if candidate and all((raw / f"{s}-images-idx3-ubyte").is_file() for s in ("train", "t10k")):
            return Path(candidate)
    return None


def gan(*args: str | os.PathLike) -> tuple[int, str]:
    """Run the `gan` CLI in this process; returns (exit code, stdout and stderr)."""
    from typer.testing import CliRunner

    from gancore.cli import app

    result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "300"}, catch_exceptions=False)
    return result.exit_code, result.output


def train(
    out: Path, *args: str, dataset: str = "ring8", batch_size: int = 32, log_every: int = 50
) -> list[dict[str, Any]]:
    """`gan run` on the CPU into ``out``; fails unless it exits 0; returns the metrics.jsonl rows."""
    argv = ["run", "--dataset", dataset, "--device", "cpu", "--batch-size", str(batch_size),
            "--log-every", str(log_every), "--out", str(out), *args]  # fmt: skip
    code, output = gan(*argv)
    assert code == 0, output
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def plugins_line(output: str, distribution: str) -> str:
    """The line of `gan plugins` output that lists ``distribution``."""
    return next(line for line in output.splitlines() if line.startswith(distribution))


def installs_alone(
    package: Path, distribution: str, module: str, others: Sequence[str], tmp_path: Path
) -> str:
    """Install the package at ``package`` into an empty folder and list plugins from there alone.

    A fresh interpreter sees that folder first, cannot import the ``others`` modules, and loads no
    entry point but ``distribution``: what an environment with only gancore and this package would
    see. Returns that interpreter's `gan plugins` line for the distribution.
    """
    source = tmp_path / "src"  # build a copy: pip leaves build/ and *.egg-info beside the sources
    ignore = shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "tests")
    shutil.copytree(package, source, ignore=ignore)
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(site), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    code = (
        "import sys\n"
        f"for name in {list(others)!r}: sys.modules[name] = None\n"
        f"import {module}; print('module at', {module}.__file__)\n"
        "from gancore.cli import app\n"
        "app(['plugins'])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site), "GANCORE_PLUGINS": distribution, "COLUMNS": "300"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"module at {site / module / '__init__.py'}" in done.stdout, done.stdout
    lines = done.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("plugin "))
    listed = [line.split()[0] for line in lines[header + 1 :] if line.strip()]
    assert listed == ["builtin", distribution], f"plugins loaded: {listed}"
    return plugins_line(done.stdout, distribution)
