"""The EMA callback and top-k weighting of ``ema_topk``, a plugin written against the public API alone.

EMA: it trains, resumes bit for bit (its average and counter included), and `gan sample` draws from
the averaged weights. Top-k: its update equals one computed by hand from fixed tensors, the loss is
computed once per step, and it trains on ring8.
"""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file
from torch import nn

from gancore import DataSpec, GANModel, Prior
from gancore.builtin.critic_steps import PlainStep
from gancore.builtin.samplers import Plain
from gancore.builtin.schedules import Constant
from gancore.config import make_config
from gancore.testing import train
from gancore.train.pipeline import Pipeline
from gancore.train.runs import open_run
from gancore.train.stats import Stats
from gancore.train.steps import generator_step
from tests.conftest import gan, same_tensors
from tests.plugins_api import ema_topk

FAST = ("--batch-size", "128")  # ring8: 20,000 points, 156 steps an epoch


@pytest.fixture
def plugin(builtin_plugins_only, register_plugin):
    register_plugin(ema_topk, "ema-topk")


def test_the_plugin_imports_nothing_of_gancore_but_its_public_api():
    tree = ast.parse(Path(ema_topk.__file__).read_text())
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert "gancore" in imported
    assert [m for m in imported if m.startswith("gancore.")] == []


def test_plugins_lists_the_new_kinds(plugin):
    assert "loss:ns-per-sample, weighting:topk, callback:ema" in gan("plugins").output


# --- EMA ----------------------------------------------------------------------------------------


def test_ema_update_is_the_textbook_average():
    live = nn.Linear(1, 1, bias=False)
    nn.init.constant_(live.weight, 1.0)
    model = GANModel(live, nn.Identity(), None, None, 1, DataSpec((1,), "points"), torch.device("cpu"))
    ema = ema_topk.EMA(ema_decay=0.9)
    ema.setup(model)
    for value in (2.0, 4.0):
        nn.init.constant_(live.weight, value)
        ema.after_generator_step(model)
    # 1 -> 0.9 * 1 + 0.1 * 2 = 1.1 -> 0.9 * 1.1 + 0.1 * 4 = 1.39
    assert ema.sampled_generator().weight.item() == pytest.approx(1.39, rel=1e-6)
    assert int(ema.state_dict()["n_averaged"]) == 2
    assert live.weight.item() == 4.0


def test_ema_run_samples_the_averaged_generator(tmp_path, plugin):
    run = tmp_path / "run"
    train(run, "--callback", "ema", "--ema-decay", "0.9", "--steps", "60", *FAST)
    last = run / "checkpoints" / "last.safetensors"
    tensors = load_file(last)
    with safe_open(str(last), "pt") as fh:
        assert fh.metadata()["sampled_generator"] == "ema"
    assert int(tensors["callback.ema.n_averaged"]) == 60  # one update per generator step

    def weights(prefix: str) -> dict:
        return {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}

    averaged, live = weights("sampled_generator."), weights("generator.")
    assert averaged.keys() == live.keys() and not all(averaged[k].equal(live[k]) for k in live)

    # on the CPU, where by_hand below draws (the default device is CUDA where there is one)
    result = gan("sample", run, "-n", "500", "--device", "cpu", "--out", tmp_path / "ema.npz")
    assert result.exit_code == 0 and "generator of callback ema" in result.output, result.output
    assert (
        gan("sample", run, "-n", "500", "--device", "cpu", "--out", tmp_path / "live.npz", "--live").exit_code
        == 0
    )
    drawn = np.load(tmp_path / "ema.npz")["points"]
    drawn_live = np.load(tmp_path / "live.npz")["points"]
    assert not np.array_equal(drawn, drawn_live)

    # by hand: the run's generator network with the averaged (or live) weights, the same seed
    def by_hand(weights: dict) -> np.ndarray:
        pipe, _, _ = open_run(run, "cpu", live=True)
        assert pipe.model.sampled_generator is None and pipe.callbacks == []
        pipe.generator.load_state_dict(weights)
        torch.manual_seed(0)
        return Plain().sample(pipe.model, 500).numpy()

    assert np.array_equal(drawn, by_hand(averaged))
    assert np.array_equal(drawn_live, by_hand(live))


def test_ema_run_resumes_bit_for_bit(tmp_path, plugin):
    # 100 steps splits the first epoch; 200 crosses into the second (an on_epoch_end in between)
    args = ("--callback", "ema", "--ema-decay", "0.95", "--n-critic", "1", *FAST)
    whole, split = tmp_path / "whole", tmp_path / "split"
    train(whole, *args, "--steps", "200")
    train(split, *args, "--steps", "100")
    result = gan("run", "--resume", split, "--steps", "200")
    assert result.exit_code == 0, result.output
    a, b = whole / "checkpoints/last.safetensors", split / "checkpoints/last.safetensors"
    same_tensors(a, b)
    keys = load_file(a).keys()
    assert "callback.ema.n_averaged" in keys and any(k.startswith("sampled_generator.") for k in keys)
    assert int(load_file(b)["callback.ema.n_averaged"]) == 200


# --- top-k --------------------------------------------------------------------------------------


class FixedPrior(Prior):
    """The same latent codes every time: z = 1, 2, -1, 3."""

    name = "fixed"

    def sample(self, n, latent_dim, device, generator=None):
        return torch.tensor([[1.0], [2.0], [-1.0], [3.0]])


def one_generator_step(weightings: list, epoch: int, calls: list[int]) -> tuple[float, dict[str, float]]:
    """One SGD(0.1) generator step of G(z) = a z (a = 0.5) against D(x) = x; returns (new a, stats)."""
    generator, critic = nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False)
    nn.init.constant_(generator.weight, 0.5)
    nn.init.constant_(critic.weight, 1.0)

    class Counted(ema_topk.NonSaturatingPerSample):
        def generator_loss(self, fake_out):
            calls.append(1)
            return ema_topk.NonSaturatingPerSample.generator_loss(self, fake_out)

    loss = Counted()
    spec = DataSpec((1,), "points")
    model = GANModel(generator, critic, FixedPrior(), loss, 1, spec, torch.device("cpu"))
    pipe = Pipeline(
        make_config(dataset="ring8", latent_dim=1), model, loss, [], PlainStep(), [], Plain(), Constant(),
        weightings=weightings,
    )  # fmt: skip
    stats = Stats()
    opt = torch.optim.SGD(generator.parameters(), lr=0.1)
    generator_step(pipe, opt, torch.zeros(4, 1), step=0, epoch=epoch, stats=stats)
    return generator.weight.item(), stats.read()


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_top_k_update_equals_the_hand_computed_one():
    # scores a z = 0.5, 1.0, -0.5, 1.5; in epoch 1 with gamma 0.5, k = 2: the fakes of z = 3 and z = 2.
    # L = (softplus(-1.5) + softplus(-1.0)) / 2;  dL/da = -(sigmoid(-1.5) * 3 + sigmoid(-1.0) * 2) / 2
    calls: list[int] = []
    topk = ema_topk.TopK(topk_gamma=0.5, topk_min=0.0)
    a, stats = one_generator_step([("topk", topk)], epoch=1, calls=calls)
    expected = 0.5 + 0.1 * (sigmoid(-1.5) * 3 + sigmoid(-1.0) * 2) / 2
    assert expected == pytest.approx(0.554257970707953, abs=1e-12)  # the golden value
    assert a == pytest.approx(expected, abs=1e-7)
    assert calls == [1]  # the loss is computed once
    # g_loss stays the plain mean over all four; what was optimised is the top-2 mean
    assert stats["g_loss"] == pytest.approx(sum(softplus(-s) for s in (0.5, 1.0, -0.5, 1.5)) / 4, abs=1e-6)
    assert stats["g_loss"] == pytest.approx(0.49070723346529715, abs=1e-6)
    assert stats["g_loss_weighted"] == pytest.approx(0.25733748275048766, abs=1e-6)


def test_top_k_keeps_the_whole_batch_in_the_first_epoch():
    plain, plain_stats = one_generator_step([], epoch=0, calls=[])
    top, top_stats = one_generator_step([("topk", ema_topk.TopK(topk_gamma=0.5))], epoch=0, calls=[])
    # dL/da = -mean(sigmoid(-a z) z) over all four codes
    expected = 0.5 + 0.1 * sum(sigmoid(-0.5 * z) * z for z in (1.0, 2.0, -1.0, 3.0)) / 4
    assert plain == pytest.approx(expected, abs=1e-7) and top == pytest.approx(expected, abs=1e-7)
    assert "g_loss_weighted" not in plain_stats and top_stats["g_loss_weighted"] == pytest.approx(
        top_stats["g_loss"], abs=1e-6
    )


def test_top_k_trains_on_ring8_computing_each_loss_once(tmp_path, plugin, monkeypatch):
    calls = {"generator": 0, "critic": 0}
    cls = ema_topk.NonSaturatingPerSample
    gen_loss, critic_loss = cls.generator_loss, cls.critic_loss

    def counted_generator(self, fake_out):
        calls["generator"] += 1
        return gen_loss(self, fake_out)

    def counted_critic(self, real_out, fake_out):
        calls["critic"] += 1
        return critic_loss(self, real_out, fake_out)

    monkeypatch.setattr(cls, "generator_loss", counted_generator)
    monkeypatch.setattr(cls, "critic_loss", counted_critic)
    run = tmp_path / "run"
    args = ("--loss", "ns-per-sample", "--weighting", "topk", "--topk-gamma", "0.5", "--n-critic", "2")
    rows = train(run, *args, "--steps", "120", *FAST, log_every=20)
    assert calls == {"generator": 120, "critic": 240}
    for row in rows:
        for key in ("d_loss", "g_loss", "g_loss_weighted"):
            assert math.isfinite(row[key]), key
        # the k best-scored fakes have the lowest non-saturating losses: their mean is at most the mean
        assert row["g_loss_weighted"] <= row["g_loss"] + 1e-6
    # from epoch 1 (78 steps an epoch at n_critic 2) k is half the batch: the two part
    assert rows[-1]["g_loss_weighted"] < rows[-1]["g_loss"] - 1e-3
    config = (run / "config.toml").read_text()
    assert 'weightings = [\n    "topk",\n]' in config
    assert json.loads((run / "metrics.jsonl").read_text().splitlines()[0])["step"] == 20
