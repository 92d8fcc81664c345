"""Every installed loss composes with the regularizers and the DRS sampler: the issue's normal command."""

from __future__ import annotations

import importlib.util
import json
import math

import numpy as np
import pytest

from gancore.plugins import get_registry
from tests.conftest import gan

NEEDED = ("gan_icr", "gan_modeseek", "gan_drs")
pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in NEEDED), reason="the plugin packages are not installed"
)


def losses() -> list[str]:
    return get_registry().names("loss")


@pytest.mark.parametrize("loss", losses())
def test_loss_with_icr_modeseek_and_drs(tmp_path, loss, tiny_images):
    run = tmp_path / "run"
    result = gan(
        "run", "--loss", loss, "--reg", "icr", "--reg", "modeseek", "--sampler", "drs", "--prior", "gmm",
        "--augment", "translation", "--dataset", tiny_images, "--generator", "toy", "--critic", "toy",
        "--toy-width", "32", "--batch-size", "32", "--steps", "6", "--n-critic", "1", "--log-every", "3",
        "--lr-schedule", "constant", "--drs-burn-in", "500", "--device", "cpu", "--out", run,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    row = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    for key in ("d_loss", "g_loss", "reg/bcr", "reg/zcr", "reg/zcr/g", "reg/modeseek/g"):
        assert key in row and math.isfinite(row[key]), key
    result = gan("sample", run, "-n", "20", "--out", tmp_path / "s.npz")
    assert result.exit_code == 0, result.output
    assert "acceptance_rate" in result.output
    assert np.load(tmp_path / "s.npz")["images"].shape == (20, 1, 16, 16)
