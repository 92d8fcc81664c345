"""Class labels reach the step, and a class-conditional GAN is a plugin: ``conditional`` (public API only).

On ring8 (labels: the index of each point's mode) the conditional pair learns to put class k on mode
k; the contexts carry the real batch's labels and those the fakes were drawn for; an unconditional
run's contexts carry none; conditional networks on unlabelled data stop with one line.
"""

from __future__ import annotations

import ast
import importlib.util
import math
from pathlib import Path

import pytest
import torch

from gancore import ConfigError
from gancore.testing import train
from gancore.train.runs import open_run
from tests.conftest import gan
from tests.plugins_api import conditional

CONDITIONAL = ("--generator", "cond-toy", "--critic", "cond-toy", "--latent-dim", "8")


@pytest.fixture
def plugin(register_plugin):
    register_plugin(conditional, "conditional")
    conditional.SEEN.clear()
    yield
    conditional.SEEN.clear()


def ring8_modes() -> torch.Tensor:
    angles = torch.arange(8, dtype=torch.float64) * (math.pi / 4)
    return 2.0 * torch.stack([angles.cos(), angles.sin()], 1).float()


def test_the_plugin_imports_nothing_of_gancore_but_its_public_api():
    tree = ast.parse(Path(conditional.__file__).read_text())
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert "gancore" in imported
    assert [m for m in imported if m.startswith("gancore.")] == []


def test_a_conditional_gan_learns_to_draw_the_class_it_is_asked_for(tmp_path, plugin):
    run = tmp_path / "run"
    rows = train(run, *CONDITIONAL, "--reg", "label-spy", "--steps", "600", batch_size=128, log_every=300)
    assert all(math.isfinite(r["d_loss"]) and math.isfinite(r["g_loss"]) for r in rows)
    pipe, _, _ = open_run(run, "cpu")
    assert pipe.model.conditional
    torch.manual_seed(0)
    modes = ring8_modes()
    with torch.no_grad():
        for k in range(8):
            x = pipe.model.generate(pipe.model.latent(200), torch.full((200,), k))
            nearest = torch.cdist(x, modes).argmin(1)
            assert (nearest == k).float().mean() > 0.9, k  # chance would be 1/8


def test_the_step_contexts_carry_the_real_and_the_fake_labels(tmp_path, plugin):
    train(tmp_path / "run", *CONDITIONAL, "--reg", "label-spy", "--steps", "5", "--n-critic", "2")
    kinds = [kind for kind, *_ in conditional.SEEN]
    assert kinds == ["critic", "critic", "generator"] * 5
    modes = ring8_modes()
    for kind, real, real_labels, fake_labels in conditional.SEEN:
        assert real_labels.dtype == fake_labels.dtype == torch.int64
        assert real_labels.shape == fake_labels.shape == (32,)
        # each real point lies on the mode its label names (std 0.02): the labels are the batch's own
        assert (real - modes[real_labels]).norm(dim=1).max() < 0.2, kind
        assert fake_labels.min() >= 0 and fake_labels.max() < 8
    # the generator step sees the last real batch, with its labels; its fakes get labels of their own
    (_, real, labels, fake_c), (_, real_g, labels_g, fake_g) = conditional.SEEN[1], conditional.SEEN[2]
    assert real_g is real and labels_g is labels and not torch.equal(fake_c, fake_g)


def test_an_unconditional_run_hands_the_step_no_labels(tmp_path, plugin):
    train(tmp_path / "run", "--reg", "label-spy", "--steps", "3")
    assert len(conditional.SEEN) == 6
    assert all(
        real_labels is None and fake_labels is None for *_, real_labels, fake_labels in conditional.SEEN
    )


def test_a_conditional_run_can_be_sampled_by_any_sampler(tmp_path, plugin):
    run = tmp_path / "run"
    train(run, *CONDITIONAL, "--steps", "20")
    samplers = ["plain"] + (["threshold"] if importlib.util.find_spec("gan_drs") else [])  # scores (x, y)
    for sampler in samplers:
        result = gan("sample", run, "-n", "50", "--sampler", sampler, "--out", tmp_path / f"{sampler}.npz")
        assert result.exit_code == 0, result.output
    pipe, _, _ = open_run(run, "cpu")
    with pytest.raises(ConfigError, match="critic is conditional"):
        pipe.model.score_clean(torch.zeros(4, 2))  # a conditional critic scores (x, labels) only


def test_conditional_networks_need_data_with_classes(tmp_path, plugin, tiny_images):
    result = gan("run", "--dataset", tiny_images, "--generator", "cond-toy", "--critic", "mlp",
                 "--steps", "2", "--device", "cpu", "--out", tmp_path / "run")  # fmt: skip
    assert result.exit_code == 2
    assert "generator 'cond-toy' is conditional (it takes class labels), but the data has no classes" in (
        result.output
    )
    assert not (tmp_path / "run").exists()
