"""The plugins in docs/plugins.md work as printed: registered, listed, shown, trained (and resumed)."""

from __future__ import annotations

import re
import sys
import tomllib
import types

from safetensors.torch import load_file

from gancore.testing import train
from tests.conftest import REPO, gan, same_tensors


def _code_blocks(language: str) -> list[str]:
    text = (REPO / "docs" / "plugins.md").read_text()
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def test_the_documented_plugin_package_works(tmp_path, builtin_plugins_only, register_plugin, monkeypatch):
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


def _as_module(name: str, source: str, monkeypatch) -> types.ModuleType:
    module = types.ModuleType(name)
    monkeypatch.setitem(sys.modules, name, module)  # as an installed module would be
    exec(compile(source, f"{name}.py", "exec"), module.__dict__)
    return module


def test_the_documented_ema_callback_and_top_k_work(
    tmp_path, builtin_plugins_only, register_plugin, monkeypatch
):
    ema, topk = _code_blocks("python")[1:3]
    assert "class EMA(Callback)" in ema and "class TopK(SampleWeighting)" in topk
    register_plugin(_as_module("gan_ema_doc", ema, monkeypatch), "ema-doc")
    register_plugin(_as_module("gan_topk_doc", topk, monkeypatch), "topk-doc")
    args = ("--callback", "ema", "--ema-decay", "0.9", "--loss", "ns-per-sample", "--weighting", "topk",
            "--topk-gamma", "0.5")  # fmt: skip
    whole, split = tmp_path / "whole", tmp_path / "split"
    rows = train(whole, *args, "--steps", "200", batch_size=128)  # 156 steps an epoch: k halves in the 2nd
    assert rows[-1]["g_loss_weighted"] < rows[-1]["g_loss"]
    train(split, *args, "--steps", "100", batch_size=128)
    assert gan("run", "--resume", split, "--steps", "200").exit_code == 0
    same_tensors(whole / "checkpoints/last.safetensors", split / "checkpoints/last.safetensors")
    assert int(load_file(whole / "checkpoints/last.safetensors")["callback.ema.updates"]) == 200
    result = gan("sample", whole, "-n", "10", "--out", tmp_path / "s.npz")
    assert result.exit_code == 0 and "generator of callback ema" in result.output, result.output
