"""The techniques of gan-losses, gan-penalties and gan-ema compose: each new loss with each penalty and
the EMA trains a few steps and samples from the average; selections that make no sense stop with one
line (exit 2) before the run folder exists.

The three packages are registered at run time while they are not pip-installed (their tests do the
same); once installed, their entry points are loaded instead.
"""

from __future__ import annotations

import importlib
import json
import math

import pytest

from gancore.plugins import get_plugin_manager
from tests.conftest import gan

PACKAGES = {
    "gan-losses": "gan_losses.plugin",
    "gan-penalties": "gan_penalties.plugin",
    "gan-ema": "gan_ema.plugin",
    "gan-conditional": "gan_conditional.plugin",
}
FEW_STEPS = (
    "--dataset",
    "ring8",
    "--device",
    "cpu",
    "--batch-size",
    "64",
    "--steps",
    "4",
    "--log-every",
    "2",
)


@pytest.fixture
def new_techniques(register_plugin) -> None:
    for name, module_name in PACKAGES.items():
        module = importlib.import_module(module_name)
        if not get_plugin_manager().is_registered(module):
            register_plugin(module, name)


@pytest.mark.usefixtures("new_techniques")
@pytest.mark.parametrize("penalty", [("--reg", "r1"), ("--reg", "r1", "--r1-every", "2", "--reg", "r2")])
@pytest.mark.parametrize("loss", ["hinge", "ragan", "ralsgan"])
def test_each_loss_with_each_penalty_and_ema(tmp_path, loss, penalty):
    run = tmp_path / "run"
    result = gan("run", "--loss", loss, *penalty, "--callback", "ema", "--ema-decay", "0.9", *FEW_STEPS,
                 "--n-critic", "2", "--out", run)  # fmt: skip
    assert result.exit_code == 0, result.output
    row = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    expected = ["d_loss", "g_loss", "reg/r1"] + (["reg/r2"] if "r2" in penalty else [])
    expected += [] if loss == "hinge" else ["loss/real_minus_fake"]
    for key in expected:
        assert key in row and math.isfinite(row[key]), key
    result = gan("sample", run, "-n", "10", "--out", tmp_path / "s.npz")
    assert result.exit_code == 0 and "generator of callback ema" in result.output, result.output


@pytest.mark.usefixtures("new_techniques")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--reg", "r1", "--r1-every", "0"], "'r1_every' must be >= 1"),
        (["--reg", "r2", "--r2-gamma", "-1"], "'r2_gamma' must be >= 0.0"),
        (["--callback", "ema", "--ema-decay", "1.5"], "--ema-decay must be in [0, 1), got 1.5"),
        (["--callback", "ema", "--ema-decay", "1"], "--ema-decay must be in [0, 1), got 1.0"),
        (["--callback", "ema", "--ema-start", "-5"], "--ema-start must be >= 0"),
        (["--reg", "r1", "--critic-step", "lipschitz", "--clip-value", "0.01"], "--reg r1 penalises"),
        (["--loss", "wgan", "--reg", "r2"], "weight clipping to [-0.01, 0.01] already caps"),
    ],
)
def test_refusals_are_one_line(tmp_path, args, message):
    run = tmp_path / "run"
    result = gan("run", *args, *FEW_STEPS, "--out", run)
    assert result.exit_code == 2 and message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and not run.exists()


CONDITIONAL = ("--generator", "cmlp", "--critic", "projection", "--latent-dim", "8", "--n-critic", "1")


@pytest.mark.usefixtures("new_techniques")
@pytest.mark.parametrize("reg", ["r1", "r2", "zcr", "modeseek"])
def test_regularizers_score_a_conditional_critic_with_each_samples_class(tmp_path, reg):
    # ring8's labels are the modes: the projection critic needs them wherever a regularizer scores
    run = tmp_path / "run"
    result = gan("run", *CONDITIONAL, "--loss", "hinge", "--reg", reg, *FEW_STEPS, "--out", run)
    assert result.exit_code == 0, result.output
    row = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    terms = [v for k, v in row.items() if k == f"reg/{reg}" or k.startswith(f"reg/{reg}/")]
    assert terms and all(math.isfinite(v) for v in terms), row


@pytest.mark.usefixtures("new_techniques")
@pytest.mark.parametrize("reg", ["gp", "cn-gp"])
def test_interpolating_penalties_refuse_a_conditional_critic(tmp_path, reg):
    run = tmp_path / "run"
    result = gan("run", *CONDITIONAL, "--loss", "hinge", "--reg", reg, *FEW_STEPS, "--out", run)
    assert result.exit_code == 2 and "conditional critic scores as different classes" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not run.exists()
