"""The speed settings: --compile changes how the step runs, not what it computes; --cuda-graphs needs
CUDA; the step's statistics accumulate in buffers that outlive a read (what a recorded step needs).

The --compile tests check wiring (the step's passes go through dynamo, losses match eager, a resume is
bit for bit), not inductor's code generation: they compile with the aot_eager backend, which traces the
same graphs, forward and backward, without generating and building C++ (a cold inductor cache cost
about a minute here). benchmarks/ runs --compile with inductor, the backend a user gets.
"""

from __future__ import annotations

import functools
import tomllib

import pytest
import torch

from gancore.io.rundir import RunDir
from gancore.train.stats import Stats
from tests.conftest import gan, same_tensors

# wgan-gp: five critic steps, each with a gradient penalty (a double backward), on uint8 images
GP_IMAGES = ["--loss", "wgan-gp", "--critic", "conv", "--device", "cpu", "--batch-size", "16"]  # fmt: skip


def rows(run) -> list[dict]:
    return RunDir(run).read_metrics()


@pytest.fixture
def cheap_compile(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch.compile with the aot_eager backend for this test (see the module's docstring)."""
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="aot_eager"))


def test_compiled_step_computes_what_the_eager_step_does(tiny_images, tmp_path, cheap_compile):
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    eager, compiled = tmp_path / "eager", tmp_path / "compiled"
    common = ["run", "--dataset", tiny_images, *GP_IMAGES, "--log-every", "5", "--steps", "10"]
    assert gan(*common, "--out", eager).exit_code == 0
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == 0
    result = gan(*common, "--compile", "--out", compiled)
    assert result.exit_code == 0, result.output
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] > 0  # the step's passes were compiled
    assert tomllib.loads((compiled / "config.toml").read_text())["compile"] is True
    for a, b in zip(rows(eager), rows(compiled), strict=True):
        assert a.keys() == b.keys()
        for key in ("d_loss", "g_loss", "reg/gp", "d_grad_norm", "g_grad_norm", "loss/wasserstein"):
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-5), key


def test_compiled_run_resumes_bit_for_bit(tmp_path, cheap_compile):
    whole, split = tmp_path / "whole", tmp_path / "split"
    common = ["run", "--dataset", "ring8", "--device", "cpu", "--batch-size", "64", "--compile"]
    assert gan(*common, "--steps", "60", "--out", whole).exit_code == 0
    assert gan(*common, "--steps", "30", "--out", split).exit_code == 0
    assert gan("run", "--resume", split, "--steps", "60").exit_code == 0
    same_tensors(whole / "checkpoints/last.safetensors", split / "checkpoints/last.safetensors")


def test_compile_is_a_speed_setting_a_resume_may_change(tmp_path, cheap_compile):
    run = tmp_path / "run"
    assert gan("run", "--dataset", "ring8", "--device", "cpu", "--steps", "20", "--out", run).exit_code == 0
    result = gan("run", "--resume", run, "--steps", "40", "--compile")
    assert result.exit_code == 0, result.output
    assert tomllib.loads((run / "config.toml").read_text())["compile"] is True
    assert [r["step"] for r in rows(run)][-1] == 40


def test_cuda_graphs_without_cuda_is_one_line(tmp_path):
    result = gan("run", "--dataset", "ring8", "--device", "cpu", "--cuda-graphs", "--out", tmp_path / "run")
    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: --cuda-graphs needs a CUDA device, but this run is on cpu; drop --cuda-graphs"
    )
    assert not (tmp_path / "run").exists()


def test_stats_accumulate_in_place_and_restart_after_a_read():
    stats = Stats()
    loss = torch.tensor(1.0)
    stats.add({"a": loss, "b": torch.tensor(10.0)})
    stats.add({"a": torch.tensor(3.0)})
    assert loss.item() == 1.0  # the first value is copied, never added into
    buffers = dict(stats.sums)
    assert stats.read() == {"a": 2.0, "b": 10.0}
    stats.add({"a": torch.tensor(5.0)})
    assert stats.read() == {"a": 5.0}  # "b" was not added since the last read: not reported
    assert all(stats.sums[k] is buffers[k] for k in buffers)  # the same buffers all along
    assert stats.read() == {}
