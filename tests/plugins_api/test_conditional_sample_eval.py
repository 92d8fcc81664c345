"""A conditional run asked for one class: `gan sample --class K`, and `gan eval`'s per-class accuracy.

Both go through the model (``GANModel.for_class``: its ``labels(n)`` are all K, so every sampler draws
class K unchanged) and the evaluation's classifier (``Evaluation.classify``: the image classifier's
predictions, a toy's nearest mode); no plugin name appears in gancore. The pair is the test-only
``conditional`` plugin (``cond-toy``).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from gancore import ConfigError, DataSpec, GANModel, ImageEvaluation, ModeEvaluation
from gancore.eval.classes import class_accuracies
from gancore.testing import gan, train
from tests.plugins_api import conditional

CONDITIONAL = ("--generator", "cond-toy", "--critic", "cond-toy", "--latent-dim", "8")


@pytest.fixture
def plugin(register_plugin):
    register_plugin(conditional, "conditional")


@pytest.fixture(scope="module")
def modes() -> np.ndarray:
    angles = np.arange(8) * (math.pi / 4)
    return 2.0 * np.stack([np.cos(angles), np.sin(angles)], 1)


@pytest.fixture
def ring_run(tmp_path, plugin):
    run = tmp_path / "run"
    train(run, *CONDITIONAL, "--steps", "400", batch_size=128, log_every=200)
    return run


def one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in output, output
    return lines[0]


def test_for_class_fixes_the_labels_and_refuses_what_cannot_be():
    spec = DataSpec((2,), "points", num_classes=3)
    model = GANModel(torch.nn.Identity(), torch.nn.Identity(), None, None, 2, spec, torch.device("cpu"),
                     generator_conditional=True)  # fmt: skip
    assert model.for_class(2).labels(4).tolist() == [2, 2, 2, 2]
    assert model.for_class(2).labels(4).dtype == torch.int64
    assert model.labels(1000).unique().tolist() == [0, 1, 2]  # the model itself is unchanged
    for k in (3, -1):
        with pytest.raises(ConfigError, match=f"class {k} is out of range: the model's data has 3 classes"):
            model.for_class(k)
    critic_only = GANModel(torch.nn.Identity(), torch.nn.Identity(), None, None, 2, spec,
                           torch.device("cpu"), critic_conditional=True)  # fmt: skip
    with pytest.raises(ConfigError, match="the generator is not conditional"):
        critic_only.for_class(0)


def test_class_accuracies_and_a_toys_classifier(modes):
    assert class_accuracies([torch.tensor([0, 0, 1, 0]), torch.tensor([1, 1])]) == [0.75, 1.0]
    evaluation = ModeEvaluation(torch.as_tensor(modes), std=0.02)
    points = torch.as_tensor(modes[[3, 5, 0]] + 0.3)
    assert evaluation.classify(points).tolist() == [3, 5, 0]  # the nearest mode: the toy's label


def test_sample_class_k_draws_class_k(ring_run, tmp_path, modes):
    for k in (0, 3, 6):
        out = tmp_path / f"class-{k}.npz"
        code, output = gan("sample", ring_run, "-n", "300", "--class", k, "--out", out)
        assert code == 0 and f"class {k}" in output, output
        points = np.load(out)["points"]
        nearest = np.sqrt(((points[:, None] - modes[None]) ** 2).sum(-1)).argmin(1)
        assert (nearest == k).mean() > 0.8, (k, np.bincount(nearest, minlength=8))  # chance: 1/8
    # without --class: the marginal over the classes, every mode
    code, output = gan("sample", ring_run, "-n", "800", "--out", tmp_path / "all.npz")
    points = np.load(tmp_path / "all.npz")["points"]
    nearest = np.sqrt(((points[:, None] - modes[None]) ** 2).sum(-1)).argmin(1)
    assert len(set(nearest.tolist())) == 8


def test_bad_class_is_one_line(ring_run, tmp_path):
    for k, message in (("8", "class 8 is out of range: the model's data has 8 classes, 0 to 7"),
                       ("-1", "class -1 is out of range")):  # fmt: skip
        code, output = gan("sample", ring_run, "--class", k, "--out", tmp_path / "x.npz")
        assert code == 2 and message in one_error_line(output)
    plain = tmp_path / "plain"
    train(plain, "--steps", "2")
    code, output = gan("sample", plain, "--class", "0", "--out", tmp_path / "y.npz")
    assert code == 2 and "the generator is not conditional" in one_error_line(output)
    assert not (tmp_path / "x.npz").exists() and not (tmp_path / "y.npz").exists()


def test_eval_of_a_conditional_toy_reports_its_class_accuracy(ring_run):
    code, output = gan("eval", ring_run, "-n", "800")
    assert code == 0, output
    assert "class accuracy" in output and "of class 0, 1, ..." in output
    result = json.loads((ring_run / "eval.json").read_text())
    assert len(result["class_accuracies"]) == 8 and result["class_accuracy_n"] == 100
    assert result["class_accuracy"] == pytest.approx(sum(result["class_accuracies"]) / 8)
    assert result["class_accuracy"] > 0.8  # samples drawn for mode k lie nearest mode k


def test_sample_class_into_png_files_and_eval_with_the_image_classifier(
    tmp_path, plugin, tiny_mnist, monkeypatch
):
    run, plain = tmp_path / "run", tmp_path / "plain"
    flags = ("--data-dir", tiny_mnist, "--steps", "4")
    train(run, *CONDITIONAL, *flags, dataset="mnist")
    train(plain, *flags, dataset="mnist")
    code, output = gan("sample", run, "-n", "5", "--class", "7", "--out", f"{tmp_path / 'sevens'}/")
    assert code == 0 and "class 7" in output, output
    assert sorted(p.name for p in (tmp_path / "sevens").iterdir()) == [f"00000{i}.png" for i in range(5)] + [
        "grid.png"
    ]
    evaluated = {}
    for name in (run, plain):
        code, output = gan("eval", name, "-n", "60", "--n-real", "100", "--data-dir", tiny_mnist)
        assert code == 0, output
        evaluated[name] = output, json.loads((name / "eval.json").read_text())
    output, result = evaluated[run]
    assert "class accuracy" in output
    assert len(result["class_accuracies"]) == 10 and result["class_accuracy_n"] == 6
    assert all(0 <= a <= 1 for a in result["class_accuracies"])
    output, result = evaluated[plain]  # an unconditional run: no such row, no such keys
    assert "class accuracy" not in output and "class_accuracy" not in result
    # the k-th accuracy is that of the samples drawn for class k: a classifier that sees only sevens
    monkeypatch.setattr(ImageEvaluation, "classify", lambda self, x: torch.full((len(x),), 7))
    code, output = gan("eval", run, "-n", "60", "--n-real", "100", "--data-dir", tiny_mnist, "--json")
    assert code == 0, output
    result = json.loads(output[output.index("{") : output.rindex("}") + 1])
    assert result["class_accuracies"] == [0.0] * 7 + [1.0] + [0.0] * 2 and result["class_accuracy"] == 0.1
