"""MH-GAN keeps what ``prepare`` learned (in the run folder through `gan sample`), and runs each chain of a
conditional model within one class."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gan_drs.mh import MetropolisHastings
from torch import nn

from gancore import Data, DataSpec, GANModel
from gancore.testing import Normal, Vanilla, gan, train

pytestmark = pytest.mark.usefixtures("one_thread")  # from the gancore.testing pytest plugin


def small_model() -> tuple[GANModel, Data]:
    generator = nn.Linear(2, 2)
    critic = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
    spec = DataSpec((2,), "points")
    model = GANModel(generator, critic, Normal(), Vanilla(), 2, spec, torch.device("cpu"))
    return model, Data(torch.randn(2000, 2) + 1.0, spec)


def test_the_state_of_a_prepared_sampler_gives_back_the_same_samples():
    torch.manual_seed(0)
    model, data = small_model()
    options = {"mh_steps": 20, "mh_keep_training": 10}
    prepared = MetropolisHastings(**options)
    prepared.prepare(model, data)
    state = prepared.state_dict()
    assert {"prepared", "platt", "starts"} <= state.keys() and any(k.startswith("critic.") for k in state)
    assert state["starts"].shape == (200,) and state["starts"].dtype == torch.float64  # 10% of 2000 rows
    restored = MetropolisHastings(**options)
    restored.load_state_dict({k: v.clone() for k, v in state.items()}, model)
    assert restored._platt == prepared._platt and torch.equal(restored._starts, prepared._starts)
    assert restored._critic is not model.critic
    for a, b in zip(prepared._critic.parameters(), restored._critic.parameters(), strict=True):
        assert torch.equal(a, b) and not b.requires_grad
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


@pytest.mark.parametrize("init", ["real", "fake"])
def test_a_conditional_models_chains_stay_within_their_class(init):
    torch.manual_seed(0)
    spec = DataSpec((2,), "points", num_classes=3)
    model = GANModel(OffsetGenerator(), CheckingCritic(), Normal(), Vanilla(), 2, spec, torch.device("cpu"),
                     generator_conditional=True, critic_conditional=True)  # fmt: skip
    labels = torch.randint(3, (3000,))
    data = Data(torch.randn(3000, 2) + 10.0 * labels[:, None], spec, labels)
    sampler = MetropolisHastings(mh_steps=10, mh_init=init, mh_keep_training=5)
    sampler.prepare(model, data)  # real rows scored with their own labels
    if init == "real":
        # every held-out row (the last 10%) is a start, with its own class
        assert sorted(sampler.state_dict()["start_labels"].tolist()) == sorted(labels[2700:].tolist())
    x = sampler.sample(model, 300)
    assert x.shape == (300, 2) and torch.isfinite(x).all()
    assert set((x[:, 0] / 10.0).round().tolist()) == {0.0, 1.0, 2.0}  # every class sampled


def test_gan_sample_keeps_the_mh_state_until_an_option_changes(tmp_path):
    run = tmp_path / "run"
    train(run, "--sampler", "mh", "--mh-steps", "5", "--steps", "20", log_every=10)
    flags = ("-n", "200", "--device", "cpu")
    first = gan("sample", run, *flags, "--out", tmp_path / "a.npz")
    assert first[0] == 0 and "prepared state saved" in first[1], first[1]
    assert "acceptance_rate" in first[1] and "restarted" in first[1]
    assert (run / "samplers" / "mh.safetensors").is_file()
    second = gan("sample", run, *flags, "--out", tmp_path / "b.npz")
    assert second[0] == 0 and "prepared state reused" in second[1], second[1]
    a, b = (np.load(tmp_path / f"{name}.npz")["points"] for name in "ab")
    assert np.array_equal(a, b)
    changed = gan("sample", run, *flags, "--mh-holdout", "0.2", "--out", tmp_path / "c.npz")
    assert changed[0] == 0 and "prepared state saved" in changed[1], changed[1]
