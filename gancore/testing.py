"""Helpers and pytest fixtures for plugin authors' tests: train through the real CLI, one torch thread,
plugins registered for one test, a package that installs alone.

This module is a pytest plugin. Installing gancore registers it (entry point ``pytest11``), so the
fixtures below are available in any test without an import; this repository loads it with
``-p gancore.testing`` in pyproject's pytest options. No fixture here is autouse: the plugin is
loaded into every pytest session of an environment that has gancore, so a test asks for what it
wants, e.g. once per module:

    import pytest
    from gancore.testing import train

    pytestmark = pytest.mark.usefixtures("one_thread")

    def test_trains(tmp_path):
        rows = train(tmp_path / "run", "--loss", "hinge", "--steps", "300")
        assert all(math.isfinite(r["d_loss"]) for r in rows)

Beside the public names of ``gancore``, a plugin's tests need nothing else of gancore: this module
also resolves settings as a run would (``resolve_config``), says whether a plugin is registered
(``is_registered``), and lends a few of gancore's own pieces to build against (the built-in
``Vanilla`` loss and ``Normal`` prior, ``draw``, ``reduce_losses``).

torch and the CLI are imported only when used: loading the plugin must not slow down unrelated
test sessions.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # what type checkers see of the names below that load on first use
    from gancore.builtin.losses import Vanilla as Vanilla
    from gancore.builtin.priors import Normal as Normal
    from gancore.config import RunConfig
    from gancore.tools.sampling import draw as draw
    from gancore.train.step import reduce_losses as reduce_losses

#: gancore's own pieces a plugin's tests build against -> the module that defines each; loaded on first
#: use (``__getattr__``) so that loading this pytest plugin does not import torch
_LAZY: dict[str, str] = {
    # the built-in loss and prior, for a GANModel made by hand (``GANModel(g, d, Normal(), Vanilla(), ...)``)
    "Vanilla": "gancore.builtin.losses",
    "Normal": "gancore.builtin.priors",
    # samples from a trained run folder, as `gan sample` draws them (returns ``Samples``)
    "draw": "gancore.tools.sampling",
    # the plain and the weighted mean of a step's per-sample losses, as the engine optimises them
    "reduce_losses": "gancore.train.step",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gancore.testing' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Tiny test networks run faster on one thread and never stall behind another process's OpenMP."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture
def one_thread() -> Iterator[None]:
    """torch on one thread for this test (``single_thread`` as a fixture); restored afterwards."""
    with single_thread():
        yield


@pytest.fixture
def register_plugin() -> Iterator[Callable[[object, str], None]]:
    """``register_plugin(plugin, name)`` registers a plugin object or module for this test only."""
    from gancore import plugins

    names: list[str] = []

    def register(plugin: object, name: str) -> None:
        plugins.register(plugin, name=name)
        names.append(name)

    yield register
    for name in reversed(names):
        plugins.unregister(name)


def is_registered(plugin: object) -> bool:
    """Whether a plugin object or module is registered already: loaded from its entry point once its
    package is installed, so that a fixture calls ``register_plugin`` only while it is not."""
    from gancore.plugins import get_plugin_manager

    return get_plugin_manager().is_registered(plugin)


def resolve_config(settings: Mapping[str, Any], options: Mapping[str, Any] | None = None) -> RunConfig:
    """The run config gancore makes of these settings (``{"loss": "wgan-gp", "n_critic": 2}``) and
    component options (``{"gp_weight": 1.0}``) with the plugins registered now: defaults, then the
    selected components' recommendations, then what is given, as `gan run` resolves its flags."""
    from gancore.config import resolve
    from gancore.plugins import get_registry

    return resolve(get_registry(), dict(settings), dict(options or {}))


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


def modes_covered(run: Path, tmp_path: Path, n: int = 2000) -> int:
    """Modes of a 2-D toy run (ring8, grid25) that ``n`` samples of `gan sample` cover, by the
    dataset's own evaluation (the share within 3 std of a mode, as `gan eval` measures it)."""
    import numpy as np
    import torch

    from gancore.io.rundir import RunDir
    from gancore.plugins import get_registry
    from gancore.train.runs import read_config

    out = tmp_path / f"{run.name}-samples.npz"
    code, output = gan("sample", run, "-n", n, "--out", out)
    assert code == 0, output
    dataset = read_config(RunDir(run)).dataset
    evaluation = get_registry().get("dataset", dataset).cls().evaluation()
    return evaluation.score(torch.from_numpy(np.load(out)["points"]))["modes_covered"]


def plugins_line(output: str, distribution: str) -> str:
    """The line of `gan plugins` output that lists ``distribution``."""
    return next(line for line in output.splitlines() if line.startswith(distribution))


def pip_install_into(package: Path, site: Path) -> Path:
    """``pip install --target site package``, offline and without dependencies; returns ``site``."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(site), str(package)],
        check=True, capture_output=True,
    )  # fmt: skip
    return site


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
    site = pip_install_into(source, tmp_path / "site")
    code = (
        "import sys\n"
        f"for name in {list(others)!r}: sys.modules[name] = None\n"
        f"import {module}; print('module at', {module}.__file__)\n"
        "import gancore; print('gancore at', gancore.__file__)\n"
        "from gancore.cli import app\n"
        "app(['plugins'])\n"
    )
    # the package first, then the gancore this test runs against (not whichever the folder or venv holds)
    gancore_root = Path(__file__).resolve().parents[1]
    path = os.pathsep.join([str(site), str(gancore_root)])
    env = {**os.environ, "PYTHONPATH": path, "GANCORE_PLUGINS": distribution, "COLUMNS": "300"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert f"module at {site / module / '__init__.py'}" in done.stdout, done.stdout
    assert f"gancore at {gancore_root / 'gancore' / '__init__.py'}" in done.stdout, done.stdout
    lines = done.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("plugin "))
    listed = [line.split()[0] for line in lines[header + 1 :] if line.strip()]
    assert listed == ["builtin", distribution], f"plugins loaded: {listed}"
    return plugins_line(done.stdout, distribution)
