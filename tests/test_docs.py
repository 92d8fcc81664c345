"""The plugin in docs/plugins.md works as printed: registered, listed, shown, trained."""

from __future__ import annotations

import re
import sys
import tomllib
import types

from tests.conftest import REPO, gan


def _code_blocks(language: str) -> list[str]:
    text = (REPO / "docs" / "plugins.md").read_text()
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def test_the_documented_plugin_package_works(tmp_path, register_plugin, monkeypatch):
    pyproject = tomllib.loads(_code_blocks("toml")[0])
    assert pyproject["project"]["entry-points"]["gancore"] == {"hinge": "gan_hinge"}
    module = types.ModuleType("gan_hinge")
    monkeypatch.setitem(sys.modules, "gan_hinge", module)  # as an installed module would be
    exec(compile(_code_blocks("python")[0], "gan_hinge.py", "exec"), module.__dict__)
    register_plugin(module, "hinge")
    assert "loss:hinge" in gan("plugins").output
    assert "--hinge-margin (float, default 1.0)" in gan("plugins", "show", "hinge").output
    run = tmp_path / "run"
    result = gan(
        "run",
        "--loss",
        "hinge",
        "--hinge-margin",
        "0.5",
        "--dataset",
        "ring8",
        "--steps",
        "20",
        "--device",
        "cpu",
        "--out",
        run,
    )
    assert result.exit_code == 0, result.output
    config = tomllib.loads((run / "config.toml").read_text())
    assert config["options"]["hinge_margin"] == 0.5 and config["beta1"] == 0.0
