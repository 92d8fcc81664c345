"""--schedule OPTION=+DELTA/Nep changes a component option per epoch, resumes exactly, rejects bad specs."""

from __future__ import annotations

import json
from typing import ClassVar

import attrs
import pytest

from gancore import plugins
from gancore.components import Regularizer, option
from gancore.train.schedule import Schedule, parse
from tests.conftest import gan

# 20,000 ring8 points at batch 2000: ten steps per epoch
RING = ["--dataset", "ring8", "--device", "cpu", "--batch-size", "2000", "--log-every", "5"]


@attrs.define
class Probe(Regularizer):
    """Records the value of its weight at every critic step; adds nothing."""

    name = "probe"
    seen: ClassVar[dict[int, set[float]]] = {}
    probe_weight: float = option(1.0, help="a weight to schedule")

    def critic_term(self, ctx):
        self.seen.setdefault(ctx.epoch, set()).add(self.probe_weight)
        return None


class ProbePlugin:
    @plugins.hookimpl
    def gancore_regularizers(self):
        return [Probe]


@pytest.fixture
def probe(register_plugin):
    register_plugin(ProbePlugin(), "probe")
    Probe.seen.clear()
    return Probe.seen


def test_parse():
    assert parse("ms_weight=+0.01/10ep") == Schedule("ms_weight", 0.01, 10)
    assert parse("ms-weight=-2e-3/1ep") == Schedule("ms_weight", -0.002, 1)
    assert Schedule("w", 0.5, 2).value(1.0, 5) == 2.0


@pytest.mark.parametrize("bad", ["ms_weight", "ms_weight=0.01/10ep", "ms_weight=+0.01/0ep", "w=+x/2ep"])
def test_bad_specs_are_one_line(tmp_path, probe, bad):
    result = gan("run", *RING, "--reg", "probe", "--steps", "5", "--schedule", bad, "--out", tmp_path / "r")
    assert result.exit_code == 2 and "expected OPTION=+DELTA/Nep" in result.output


def test_an_option_no_component_has(tmp_path, probe):
    result = gan("run", *RING, "--steps", "5", "--schedule", "probe_weight=+1/1ep", "--out", tmp_path / "r")
    assert result.exit_code == 2 and "no component of this run has an option 'probe_weight'" in result.output


def test_the_option_follows_the_schedule_and_is_logged(tmp_path, probe):
    run = tmp_path / "run"
    args = ["--reg", "probe", "--schedule", "probe_weight=+0.5/2ep", "--probe-weight", "1.0"]
    assert gan("run", *RING, *args, "--steps", "40", "--out", run).exit_code == 0
    assert probe == {0: {1.0}, 1: {1.0}, 2: {1.5}, 3: {1.5}}
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert {r["step"]: r["schedule/probe_weight"] for r in rows if r["step"] in (10, 25)} == {
        10: 1.0,
        25: 1.5,
    }

    probe.clear()  # a run resumed in epoch 2 starts from the scheduled value, not the base one
    cut = tmp_path / "cut"
    assert gan("run", *RING, *args, "--steps", "25", "--out", cut).exit_code == 0
    probe.clear()
    assert gan("run", "--resume", cut, "--steps", "40").exit_code == 0
    assert probe == {2: {1.5}, 3: {1.5}}


def test_the_cosine_schedule_by_hand_and_the_logged_rates(tmp_path):
    """Cosine factors against values computed by hand, and the learning rates each metrics row logs:
    ring8 at batch 2000 is ten steps an epoch, so rows at steps 5, 10, ... belong to epochs 0, 0, 1, ..."""
    import math

    from gancore.builtin.schedules import Cosine

    assert [Cosine().factor(e, 4) for e in range(4)] == pytest.approx([1.0, (1 + math.sqrt(0.5)) / 2, 0.5,
                                                                       (1 - math.sqrt(0.5)) / 2])  # fmt: skip
    assert Cosine(cosine_floor=0.2).factor(2, 4) == pytest.approx(0.2 + 0.8 * 0.5)
    out = tmp_path / "run"
    assert gan("run", *RING, "--lr-schedule", "cosine", "--epochs", "4", "--lr-g", "1e-3", "--lr-d", "2e-3",
               "--out", out).exit_code == 0  # fmt: skip
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    logged = {row["step"]: (row["lr_g"], row["lr_d"]) for row in rows if "lr_g" in row}
    for step, epoch in ((5, 0), (15, 1), (25, 2), (35, 3)):
        factor = Cosine().factor(epoch, 4)
        assert logged[step] == pytest.approx((1e-3 * factor, 2e-3 * factor))
