"""Installed broken packages take nothing else down.

Two packages are really installed (``pip install --target``) into a folder that a fresh interpreter
sees first: one whose import fails, one whose loss declares an option without a type annotation.
Every command that does not select them works; selecting one of their names is one line, exit 2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gancore.testing import pip_install_into

PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}"
version = "0.1.0"

[project.entry-points.gancore]
{name} = "{module}"

[tool.setuptools]
py-modules = ["{module}"]
"""

IMPORT_FAILS = "import gancore_test_missing_dependency  # not installed anywhere\n"

UNTYPED_OPTION = """
import attrs
from gancore import Loss, hookimpl, option


@attrs.define
class Untyped(Loss):
    name = "untyped"
    margin = option(1.0, help="a margin, but no annotation says its type")

    def critic_loss(self, real_out, fake_out):
        return (self.margin - real_out).clamp_min(0).mean() + (self.margin + fake_out).clamp_min(0).mean()

    def generator_loss(self, fake_out):
        return -fake_out.mean()


@hookimpl
def gancore_losses():
    return [Untyped]
"""

#: run in one fresh interpreter: each command through the CLI, its exit code and output as JSON
COMMANDS = """
import json, sys
from gancore.testing import gan
run, out = sys.argv[1], sys.argv[2]
ring = ["--dataset", "ring8", "--device", "cpu", "--batch-size", "64"]
commands = [
    ["plugins"],
    ["run", "--help"],
    ["run", "--loss", "vanilla", *ring, "--steps", "5", "--out", run],
    ["sample", run, "-n", "16", "--out", out + "/samples.npz", "--device", "cpu"],
    ["eval", run, "-n", "500", "--device", "cpu", "--json"],
    ["run", "--loss", "untyped", *ring, "--steps", "5", "--out", out + "/untyped"],
    ["run", "--loss", "hinge", *ring, "--steps", "5", "--out", out + "/hinge"],
]
print(json.dumps([gan(*args) for args in commands]))
"""


def install(tmp_path: Path, name: str, module: str, source: str) -> Path:
    """``pip install --target`` a one-module package declaring the entry point ``name``."""
    package = tmp_path / "src" / name
    package.mkdir(parents=True)
    (package / "pyproject.toml").write_text(PYPROJECT.format(name=name, module=module))
    (package / f"{module}.py").write_text(textwrap.dedent(source))
    return pip_install_into(package, tmp_path / "site")


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("broken")
    install(tmp, "gan-import-fails", "gan_import_fails", IMPORT_FAILS)
    return install(tmp, "gan-untyped", "gan_untyped", UNTYPED_OPTION)


def env_with(site: Path) -> dict[str, str]:
    """This environment, with ``site`` first on the path and only the two broken plugins loaded."""
    path = os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "GANCORE_PLUGINS": "gan-import-fails,gan-untyped",
            "GANCORE_OFFLINE": "1", "COLUMNS": "300"}  # fmt: skip


def test_broken_packages_take_nothing_else_down(broken_site, tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", COMMANDS, str(tmp_path / "run"), str(tmp_path)],
        env=env_with(broken_site), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    plugins, run_help, run, sample, evaluate, untyped, hinge = json.loads(done.stdout.splitlines()[-1])
    assert plugins[0] == 0, plugins[1]
    listed = {line.split()[0]: line for line in plugins[1].splitlines() if line.startswith("gan-")}
    assert "failed" in listed["gan-import-fails"] and "No module named" in listed["gan-import-fails"]
    assert "failed" in listed["gan-untyped"] and "'margin'" in listed["gan-untyped"]
    assert "has no type annotation" in listed["gan-untyped"]
    everything = "".join(output for _, output in (plugins, run_help, run, sample, evaluate, untyped, hinge))
    assert everything.count("gancore: warning: plugin 'gan-untyped'") == 1  # once per process
    assert everything.count("gancore: warning: plugin 'gan-import-fails'") == 1
    for code, output in (run_help, run, sample, evaluate):
        assert code == 0, output
        assert "Traceback" not in output
    assert (tmp_path / "samples.npz").is_file()

    code, output = untyped
    error = [line for line in output.splitlines() if line.startswith("error:")]
    assert code == 2 and len(error) == 1, output
    assert "loss 'untyped' cannot be used: plugin 'gan-untyped' failed" in error[0]
    assert not (tmp_path / "untyped").exists()
    code, output = hinge
    assert code == 2 and "unknown loss 'hinge'" in output
    assert "plugin 'gan-import-fails' failed (import raised ModuleNotFoundError" in output


def test_the_real_command_line_lists_a_failed_plugin(broken_site):
    done = subprocess.run(
        [sys.executable, "-m", "gancore.cli", "plugins"],
        env=env_with(broken_site), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "gan-import-fails" in done.stdout and "gan-untyped" in done.stdout
    warnings = done.stderr.strip().splitlines()
    assert len(warnings) == 2 and all(w.startswith("gancore: warning: plugin 'gan-") for w in warnings)
