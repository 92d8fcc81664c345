"""The plugins in docs/plugins.md work as printed: registered, listed, shown, trained (and resumed)."""

from __future__ import annotations

import json
import math
import re
import sys
import tomllib
import types

import numpy as np
import torch
from safetensors.torch import load_file

from gancore.testing import train
from gancore.train.runs import open_run
from tests.conftest import REPO, gan, same_tensors


def _code_blocks(language: str) -> list[str]:
    text = (REPO / "docs" / "plugins.md").read_text()
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def test_the_documented_plugin_package_works(tmp_path, builtin_plugins_only, register_plugin, monkeypatch):
    pyproject = tomllib.loads(_code_blocks("toml")[0])
    assert pyproject["project"]["entry-points"]["gancore"] == {"gan-hinge": "gan_hinge"}
    module = types.ModuleType("gan_hinge")
    monkeypatch.setitem(sys.modules, "gan_hinge", module)  # as an installed module would be
    exec(compile(_code_blocks("python")[0], "gan_hinge.py", "exec"), module.__dict__)
    register_plugin(module, "gan-hinge")
    assert "loss:hinge" in gan("plugins").output
    assert "--hinge-margin (float, default 1.0)" in gan("plugins", "show", "gan-hinge:hinge").output
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
    # the example declares why it cannot train under torchrun, which the engine refuses with (as gan-topk)
    assert "each process sees only its share" in sys.modules["gan_topk_doc"].TopK.data_parallel_refusal


def test_the_documented_conditional_gan_trains_and_draws_the_class_asked_for(
    tmp_path, register_plugin, monkeypatch
):
    source = _code_blocks("python")[3]
    assert "conditional: ClassVar[bool] = True" in source
    register_plugin(_as_module("gan_cond_doc", source, monkeypatch), "cond-doc")
    run = tmp_path / "run"
    train(run, "--generator", "cond-mlp", "--critic", "cond-mlp", "--latent-dim", "8", "--steps", "600",
          batch_size=128, log_every=300)  # fmt: skip
    pipe, _, _ = open_run(run, "cpu")
    angles = torch.arange(8) * (math.pi / 4)
    modes = 2.0 * torch.stack([angles.cos(), angles.sin()], 1)  # ring8's label k is its mode k
    with torch.no_grad():
        for k in range(8):
            x = pipe.model.generate(pipe.model.latent(200), torch.full((200,), k))
            assert (torch.cdist(x, modes).argmin(1) == k).float().mean() > 0.8, k


def test_the_documented_sampler_with_state_is_prepared_once(tmp_path, register_plugin, monkeypatch):
    source = _code_blocks("python")[4]
    assert "class Refit(Sampler)" in source
    module = _as_module("gan_refit_doc", source, monkeypatch)
    register_plugin(module, "refit-doc")
    prepared = []
    original = module.Refit.prepare
    monkeypatch.setattr(module.Refit, "prepare", lambda self, *a: prepared.append(1) or original(self, *a))
    run = tmp_path / "run"
    train(run, "--sampler", "refit", "--steps", "20")
    outs = [tmp_path / f"{name}.npz" for name in "abc"]
    for out, extra in zip(outs, [(), (), ("--refit-steps", "5")], strict=True):
        result = gan("sample", run, "-n", "100", *extra, "--out", out)
        assert result.exit_code == 0, result.output
    assert len(prepared) == 2 and (run / "samplers" / "refit.safetensors").is_file()
    assert np.array_equal(np.load(outs[0])["points"], np.load(outs[1])["points"])


def test_the_documented_dataset_trains_and_is_scored(
    tmp_path, builtin_plugins_only, register_plugin, monkeypatch
):
    source = next(block for block in _code_blocks("python") if "class Spiral12(Dataset)" in block)
    register_plugin(_as_module("gan_spiral_doc", source, monkeypatch), "spiral-doc")
    assert "--spiral-std (float, default 0.03)" in gan("plugins", "show", "spiral12").output
    run = tmp_path / "run"
    rows = train(run, "--loss", "vanilla", "--steps", "300", dataset="spiral12", batch_size=256)
    assert rows[-1]["step"] == 300
    result = gan("eval", run, "-n", "2000", "--out", tmp_path / "eval.json")
    assert result.exit_code == 0, result.output
    scores = json.loads((tmp_path / "eval.json").read_text())
    assert 0 <= scores["modes_covered"] <= 12 and "high_quality" in scores
    real = gan("eval", "--real", "--dataset", "spiral12", "--out", tmp_path / "real.json")
    assert real.exit_code == 0, real.output
    assert json.loads((tmp_path / "real.json").read_text())["modes_covered"] == 12  # its own data: every mode
