"""Lint is part of the test command: ruff, and import-linter's contracts on the layers.

The contracts live in pyproject.toml ([tool.importlinter]); the second test shows they are not
vacuous: one wrong-way import added to a copy of the package breaks them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

BIN = Path(sys.executable).parent


def _run(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_ruff_is_clean():
    check = _run(str(BIN / "ruff"), "check", ".")
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = _run(str(BIN / "ruff"), "format", "--check", ".")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_the_layer_contracts_hold():
    done = _run(str(BIN / "lint-imports"), "--no-cache")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_a_wrong_way_import_breaks_the_layers(tmp_path):
    shutil.copytree(REPO / "gancore", tmp_path / "gancore", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    loop = tmp_path / "gancore" / "train" / "loop.py"
    loop.write_text(loop.read_text() + "\nfrom gancore.eval import fid  # noqa: E402, F401\n")
    plugins = [str(p) for p in sorted((REPO / "plugins").glob("gan-*"))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *plugins])}
    done = _run(str(BIN / "lint-imports"), "--no-cache", cwd=tmp_path, env=env)
    assert done.returncode != 0, done.stdout
    assert "gancore.train is not allowed to import gancore.eval" in done.stdout
    assert "gancore.train.loop -> gancore.eval.fid" in done.stdout
