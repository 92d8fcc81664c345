"""gan-fgan builds and installs on its own; `gan plugins` lists its names with no other plugin present."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from gancore.cli import app

PACKAGE = Path(__file__).resolve().parents[1]
DISTRIBUTION, MODULE = "gan-fgan", "gan_fgan"
OTHERS = ["gan_wgan", "gan_lsgan"]  # sibling plugins that must not be needed
NAMES = [f"loss:fgan-{d}" for d in ("gan", "js", "kl", "rkl", "pearson", "hellinger", "tv")]


def test_listed_by_gan_plugins():
    result = CliRunner().invoke(app, ["plugins"], env={"COLUMNS": "300"}, catch_exceptions=False)
    line = next(x for x in result.output.splitlines() if x.startswith(DISTRIBUTION))
    assert all(name in line for name in NAMES), line


def test_installs_alone_into_a_fresh_site(tmp_path):
    source = tmp_path / "src"  # build a copy: pip leaves build/ and *.egg-info beside the sources
    shutil.copytree(
        PACKAGE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "tests")
    )
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(site), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    assert (site / MODULE / "plugin.py").is_file()
    # a fresh interpreter that sees this package first, cannot import its siblings, and loads no
    # other entry point: what an environment with only gancore and this package would see
    code = (
        "import sys\n"
        f"for name in {OTHERS!r}: sys.modules[name] = None\n"
        f"import {MODULE}; print('module at', {MODULE}.__file__)\n"
        "from gancore.cli import app\n"
        "app(['plugins'])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site), "GANCORE_PLUGINS": DISTRIBUTION, "COLUMNS": "300"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"module at {site / MODULE / '__init__.py'}" in done.stdout
    line = next(x for x in done.stdout.splitlines() if x.startswith(DISTRIBUTION))
    assert all(name in line for name in NAMES), done.stdout
    assert "gan-wgan" not in done.stdout and "gan-lsgan" not in done.stdout
