"""DRS keeps what ``prepare`` learned, trains the critic with the run's objective and samples
conditional models; the README's `gan sample ... --threshold-quantile` command works."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from gan_drs.drs import DiscriminatorRejection
from gan_drs.simple import Threshold
from torch import nn

from gancore import Data, DataSpec, GANModel, Loss
from gancore.testing import Normal, Vanilla, draw, gan, single_thread, train

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    with single_thread():
        yield


class NoLogit(Loss):
    name = "test-nologit"

    def critic_loss(self, real_out, fake_out):
        return fake_out.mean() - real_out.mean()


def small_model(loss: Loss | None = None) -> tuple[GANModel, Data]:
    generator = nn.Linear(2, 2)
    critic = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
    model = GANModel(
        generator, critic, Normal(), loss or Vanilla(), 2, DataSpec((2,), "points"), torch.device("cpu")
    )
    return model, Data(torch.randn(2000, 2) + 1.0, DataSpec((2,), "points"))


def test_the_state_of_a_prepared_drs_gives_back_the_same_sampler():
    torch.manual_seed(0)
    model, data = small_model(NoLogit())  # no logit: DRS calibrates one, after keep-training
    prepared = DiscriminatorRejection(drs_keep_training=20, drs_burn_in=1000)
    prepared.prepare(model, data)
    state = prepared.state_dict()
    assert {"max_logit", "platt"} <= state.keys() and any(k.startswith("critic.") for k in state)
    restored = DiscriminatorRejection(drs_keep_training=20, drs_burn_in=1000)
    restored.load_state_dict({k: v.clone() for k, v in state.items()}, model)
    assert restored.max_logit == prepared.max_logit and restored._platt == prepared._platt
    for a, b in zip(prepared._critic.parameters(), restored._critic.parameters(), strict=True):
        assert torch.equal(a, b) and not b.requires_grad
    assert restored._critic is not model.critic
    torch.manual_seed(1)
    x = prepared.sample(model, 300)
    torch.manual_seed(1)
    assert torch.equal(x, restored.sample(model, 300))


class OffsetGenerator(nn.Module):
    """Class y's samples are z + 10 y: which class a sample was drawn for shows in its value."""

    def forward(self, z, labels):
        return z + 10.0 * labels[:, None].float()


class CheckingCritic(nn.Module):
    """A conditional critic that fails unless each sample comes with the class it belongs to."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(()))

    def forward(self, x, labels):
        assert torch.all((x[:, 0] - 10.0 * labels).abs() < 6), "a sample was scored for another class"
        return self.weight * x[:, 0] - (x[:, 0] - 10.0 * labels).square()


def test_drs_and_threshold_score_a_conditional_models_samples_for_their_own_class():
    torch.manual_seed(0)
    spec = DataSpec((2,), "points", num_classes=3)
    model = GANModel(OffsetGenerator(), CheckingCritic(), Normal(), Vanilla(), 2, spec, torch.device("cpu"),
                     generator_conditional=True, critic_conditional=True)  # fmt: skip
    labels = torch.randint(3, (3000,))
    data = Data(torch.randn(3000, 2) + 10.0 * labels[:, None], spec, labels)
    sampler = DiscriminatorRejection(drs_keep_training=5, drs_burn_in=1000)
    sampler.prepare(model, data)  # keep-training scores held-out real data with its own labels
    x = sampler.sample(model, 300)
    assert x.shape == (300, 2)
    classes = (x[:, 0] / 10.0).round()
    assert set(classes.tolist()) == {0.0, 1.0, 2.0}  # labels drawn over every class
    assert Threshold().sample(model, 300).shape == (300, 2)


def test_drs_keep_training_uses_the_runs_gradient_penalty(tmp_path, monkeypatch):
    gan_wgan = pytest.importorskip("gan_wgan")
    run = tmp_path / "run"
    train(run, "--loss", "wgan-gp", "--sampler", "drs", "--steps", "4", log_every=2)
    critics = []
    penalty = gan_wgan.penalty.GradientPenalty.critic_term

    def spy(self, ctx):
        critics.append(ctx.model.critic)
        return penalty(self, ctx)

    monkeypatch.setattr(gan_wgan.penalty.GradientPenalty, "critic_term", spy)
    samples = draw(run, 50, device="cpu", options={"drs_keep_training": 7, "drs_burn_in": 500})
    assert samples.values.shape == (50, 2)
    assert len(critics) == 7  # the penalty ran at every keep-training step
    assert len({id(c) for c in critics}) == 1  # on the one copy being trained
    critics.clear()
    draw(run, 50, device="cpu", options={"drs_keep_training": 7, "drs_burn_in": 500})
    assert critics == []  # the second call reuses the saved critic: no training at all


def test_gan_sample_keeps_the_drs_state_until_an_option_changes(tmp_path):
    run = tmp_path / "run"
    train(run, "--sampler", "drs", "--steps", "20", log_every=10)
    flags = ("-n", "200", "--device", "cpu", "--drs-keep-training", "10", "--drs-burn-in", "1000")
    first = gan("sample", run, *flags, "--out", tmp_path / "a.npz")
    assert first[0] == 0 and "prepared state saved" in first[1], first[1]
    second = gan("sample", run, *flags, "--out", tmp_path / "b.npz")
    assert second[0] == 0 and "prepared state reused" in second[1], second[1]
    a, b = (np.load(tmp_path / f"{name}.npz")["points"] for name in "ab")
    assert np.array_equal(a, b)
    changed = gan("sample", run, *flags, "--drs-gamma", "p80", "--out", tmp_path / "c.npz")
    assert changed[0] == 0 and "prepared state saved" in changed[1], changed[1]


def test_the_readmes_threshold_command_works(tmp_path):
    line = next(s.strip() for s in README.read_text().splitlines() if s.strip().startswith("gan sample"))
    argv = shlex.split(line.split("#")[0])[1:]
    run = tmp_path / "run"
    train(run, "--steps", "20", log_every=10)
    argv = [str(run) if a == "runs/x" else str(tmp_path / a) if a.endswith(".npz") else a for a in argv]
    assert "--threshold-quantile" in argv
    code, output = gan(*argv, "--device", "cpu")
    assert code == 0, output
    drawn = np.load(tmp_path / "s.npz")["points"]
    assert drawn.shape == (int(argv[argv.index("-n") + 1]), 2)
    # the flag is used: keeping fewer candidates per batch gives other samples
    code, output = gan(*argv, "--device", "cpu", "--threshold-quantile", "0.9", "--out", tmp_path / "t.npz")
    assert code == 0, output
    assert not np.array_equal(drawn, np.load(tmp_path / "t.npz")["points"])
