"""Samplers with state and the run's objective: what ``prepare`` learns is saved in the run folder and
reused while its key holds; ``model.train_critic`` is the run's whole critic step; `gan sample` and
`gan eval` take the sampler's options as flags."""

from __future__ import annotations

import copy as copy_module
import json
from typing import ClassVar

import attrs
import numpy as np
import pytest
import torch
from torch import Tensor, nn

from gancore import CriticStep, CriticStepContext, GANModel, Regularizer, Sampler, hookimpl, option
from gancore.io.rundir import RunDir
from gancore.testing import train
from gancore.tools.sampling import draw
from gancore.train.runs import open_run
from tests.conftest import gan

#: (critic-step sampler's shift) per prepare call, and the critics the spies saw
PREPARED: list[float] = []
PENALIZED: list[nn.Module] = []
CONSTRAINED: list[nn.Module] = []


@attrs.define
class Shifting(Sampler):
    """G(z) + a random offset learned by ``prepare`` (from its own RNG stream) + ``--shift-by``."""

    name = "test-shifting"
    shift_by: float = option(0.0, help="added to every sample")
    learned: Tensor | None = attrs.field(default=None, init=False)

    def prepare(self, model: GANModel, data) -> None:
        PREPARED.append(self.shift_by)
        self.learned = torch.randn(())

    def state_dict(self) -> dict[str, Tensor]:
        return {"learned": self.learned}

    def load_state_dict(self, state: dict[str, Tensor], model: GANModel) -> None:
        self.learned = state["learned"]

    @torch.no_grad()
    def sample(self, model: GANModel, n: int, batch_size: int = 1000) -> Tensor:
        return model.generate(model.latent(n)) + self.learned + self.shift_by


@attrs.define
class PenaltySpy(Regularizer):
    """Adds a tiny term and notes which critic the step's context holds."""

    name = "test-penalty-spy"

    def critic_term(self, ctx: CriticStepContext) -> Tensor:
        PENALIZED.append(ctx.model.critic)
        return 0.0 * ctx.real_out.mean()


@attrs.define
class ConstraintSpy(CriticStep):
    """Notes which critic ``after_step`` constrains."""

    name = "test-constraint-spy"
    recommends: ClassVar[dict] = {}

    @torch.no_grad()
    def after_step(self, critic: nn.Module) -> None:
        CONSTRAINED.append(critic)


class Plugin:
    @hookimpl
    def gancore_samplers(self):
        return [Shifting]

    @hookimpl
    def gancore_regularizers(self):
        return [PenaltySpy]

    @hookimpl
    def gancore_critic_steps(self):
        return [ConstraintSpy]


@pytest.fixture
def plugin(register_plugin):
    register_plugin(Plugin(), "sampler-state-test")
    for seen in (PREPARED, PENALIZED, CONSTRAINED):
        seen.clear()


@pytest.fixture
def run(tmp_path, plugin):
    folder = tmp_path / "run"
    train(folder, "--sampler", "test-shifting", "--steps", "10", "--ckpt-every", "5")
    return folder


def test_a_second_draw_reuses_the_prepared_state_and_gives_the_same_samples(run):
    first = draw(run, 100, device="cpu", seed=3)
    state = RunDir(run).sampler_state("test-shifting")
    assert first.prepared == "saved" and state.is_file() and PREPARED == [0.0]
    second = draw(run, 100, device="cpu", seed=3)
    assert second.prepared == "reused" and PREPARED == [0.0]  # prepare did not run again
    assert torch.equal(first.values, second.values)
    assert not torch.equal(draw(run, 100, device="cpu", seed=4).values, first.values)  # the seed draws


def test_a_changed_option_or_checkpoint_prepares_again(run):
    draw(run, 10, device="cpu")
    assert draw(run, 10, device="cpu", options={"shift_by": 1.0}).prepared == "saved"
    assert PREPARED == [0.0, 1.0]
    earlier = RunDir(run).step_checkpoint(5)
    assert draw(run, 10, device="cpu", ckpt=earlier, options={"shift_by": 1.0}).prepared == "saved"
    assert draw(run, 10, device="cpu", ckpt=earlier, options={"shift_by": 1.0}).prepared == "reused"
    assert len(PREPARED) == 3
    # a resumed run writes a new last checkpoint: its state is computed anew
    assert gan("run", "--resume", run, "--steps", "12").exit_code == 0
    assert draw(run, 10, device="cpu", options={"shift_by": 1.0}).prepared == "saved"
    assert len(PREPARED) == 4


def test_a_corrupt_state_file_is_computed_again(run):
    draw(run, 10, device="cpu")
    RunDir(run).sampler_state("test-shifting").write_bytes(b"not safetensors")
    assert draw(run, 10, device="cpu").prepared == "saved" and len(PREPARED) == 2


def test_a_sampler_without_state_writes_nothing(run):
    assert draw(run, 10, sampler="plain", device="cpu").prepared == ""
    assert not (run / "samplers").exists()


def test_gan_sample_takes_the_samplers_options_as_flags(run, tmp_path):
    result = gan("sample", run, "-n", "20", "--shift-by", "100", "--out", tmp_path / "s.npz")
    assert result.exit_code == 0, result.output
    assert "prepared state saved" in result.output
    assert np.load(tmp_path / "s.npz")["points"].mean() > 50
    again = gan("sample", run, "-n", "20", "--shift-by", "100", "--out", tmp_path / "t.npz")
    assert "prepared state reused" in again.output
    assert np.array_equal(np.load(tmp_path / "s.npz")["points"], np.load(tmp_path / "t.npz")["points"])


def test_an_override_sampler_gets_its_flags_and_foreign_flags_are_refused(run, tmp_path):
    result = gan("sample", run, "--sampler", "plain", "--shift-by", "1", "--out", tmp_path / "s.npz")
    assert result.exit_code == 2
    assert "--shift-by is no option of sampler 'plain', which draws these samples" in result.output
    result = gan("sample", run, "--shift-bi", "1", "--out", tmp_path / "s.npz")
    assert result.exit_code == 2
    assert "no such option --shift-bi; did you mean --shift-by? (`gan sample --help`" in result.output
    assert "--shift-by" in gan("sample", "--help").output
    assert "--shift-by" in gan("eval", "--help").output


def test_gan_eval_draws_with_the_samplers_flags(run, tmp_path):
    result = gan("eval", run, "-n", "200", "--device", "cpu", "--shift-by", "100", "--json")
    assert result.exit_code == 0, result.output
    written = json.loads((run / "eval.json").read_text())
    assert written["sampler_options"] == {"shift_by": 100.0}
    assert written["sampler_prepared"] == "saved"
    assert written["modes_covered"] == 0  # every sample was moved far from the ring
    result = gan("eval", "--real", "--dataset", "ring8", "--shift-by", "1", "--out", tmp_path / "e.json")
    assert result.exit_code == 2 and "needs a run folder" in result.output


def test_train_critic_is_the_runs_whole_critic_step(tmp_path, plugin):
    run = tmp_path / "run"
    train(run, "--reg", "test-penalty-spy", "--critic-step", "test-constraint-spy", "--steps", "3")
    pipe, data, _ = open_run(run, "cpu", with_data=True)
    PENALIZED.clear()
    CONSTRAINED.clear()
    own = [p.detach().clone() for p in pipe.critic.parameters()]
    copy = copy_module.deepcopy(pipe.critic).requires_grad_(True)
    opt = torch.optim.SGD(copy.parameters(), lr=0.1)
    model = pipe.model.for_sampling()
    for _ in range(2):
        loss = model.train_critic(copy, opt, data.decode(data.x[:32]))
    assert torch.isfinite(loss) and not loss.requires_grad
    seen = PENALIZED + CONSTRAINED  # the run's regularizer and constraint, each at both steps
    assert len(seen) == 4 and all(critic is copy for critic in seen)
    assert all(torch.equal(a, b) for a, b in zip(own, pipe.critic.parameters(), strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(own, copy.parameters(), strict=True))
