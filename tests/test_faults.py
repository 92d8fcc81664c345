"""Divergence, Ctrl-C and a crash in the middle of a checkpoint write."""

from __future__ import annotations

import os
import signal
from typing import ClassVar

import attrs
import pytest
import torch
from safetensors.torch import load_file

from gancore import plugins
from gancore.components import Regularizer
from gancore.io import checkpoint
from tests.conftest import gan

FAST = ["--dataset", "ring8", "--device", "cpu", "--batch-size", "128", "--log-every", "50"]


@attrs.define
class PoisonAt(Regularizer):
    """Adds NaN to the critic loss from step 57 (0-based) on."""

    name = "poison"

    def critic_term(self, ctx):
        return torch.full((), float("nan")) if ctx.step >= 57 else None


@attrs.define
class InterruptAt(Regularizer):
    """Sends this process a SIGINT (a Ctrl-C) during step 30, once; adds nothing to the loss."""

    name = "ctrl-c"
    armed: ClassVar[list[bool]] = [True]

    def critic_term(self, ctx):
        if ctx.step == 30 and self.armed[0]:
            self.armed[0] = False
            os.kill(os.getpid(), signal.SIGINT)
        return None


class FaultPlugin:
    @plugins.hookimpl
    def gancore_regularizers(self):
        return [PoisonAt, InterruptAt]


@pytest.fixture
def faults(register_plugin):
    register_plugin(FaultPlugin(), "faults")
    InterruptAt.armed[0] = True


def test_nan_stops_within_a_few_steps_and_keeps_the_last_good_checkpoint(tmp_path, faults):
    run = tmp_path / "run"
    result = gan("run", *FAST, "--reg", "poison", "--steps", "300", "--ckpt-every", "20", "--out", run)
    assert result.exit_code == 1
    assert "critic loss became non-finite at step 58" in result.output
    assert "step 40" in result.output and "last.safetensors" in result.output
    last = load_file(run / "checkpoints" / "last.safetensors")
    assert all(t.isfinite().all() for k, t in last.items() if k.startswith(("generator.", "critic.")))
    _, meta = checkpoint.read(run / "checkpoints" / "last.safetensors")
    assert meta["step"] == "40"
    assert not (run / "checkpoints" / "step-000000060.safetensors").exists()


def test_ctrl_c_saves_and_the_resumed_run_matches_an_uninterrupted_one(tmp_path, faults):
    cut, whole = tmp_path / "cut", tmp_path / "whole"
    result = gan("run", *FAST, "--reg", "ctrl-c", "--steps", "80", "--out", cut)
    assert result.exit_code == 130
    assert "interrupted at step 31" in result.output and f"--resume {cut}" in result.output
    _, meta = checkpoint.read(cut / "checkpoints" / "last.safetensors")
    assert meta["step"] == "31"
    assert gan("run", "--resume", cut).exit_code == 0
    assert gan("run", *FAST, "--reg", "ctrl-c", "--steps", "80", "--out", whole).exit_code == 0
    a, b = load_file(cut / "checkpoints/last.safetensors"), load_file(whole / "checkpoints/last.safetensors")
    assert a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a)


def test_a_crash_during_a_checkpoint_write_leaves_last_intact(tmp_path, monkeypatch):
    run = tmp_path / "run"
    assert gan("run", *FAST, "--steps", "20", "--out", run).exit_code == 0
    last = run / "checkpoints" / "last.safetensors"
    before = last.read_bytes()

    def crash(tensors, filename, metadata=None):
        with open(filename, "wb") as fh:
            fh.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "save_file", crash)
    net = torch.nn.Linear(2, 1)
    opt = torch.optim.Adam(net.parameters())
    with pytest.raises(OSError):
        checkpoint.save(last, net, net, opt, opt, step=99)
    assert last.read_bytes() == before
    assert sorted(p.name for p in last.parent.iterdir()) == ["last.safetensors"]
