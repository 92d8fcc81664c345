"""Callbacks in the engine: when each is called, their state across a resume, the errors a user meets;
and a run without callbacks or per-sample losses is bit for bit what it was before they existed."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import platform
import signal
from pathlib import Path
from typing import ClassVar

import attrs
import pytest
import torch
from safetensors.torch import load_file
from torch import Tensor

from gancore import Callback, plugins
from gancore.builtin.samplers import Plain
from gancore.config import resolve
from gancore.testing import train
from gancore.train import runs
from tests.conftest import gan, same_tensors
from tests.plugins_api import ema_topk

FAST = ("--batch-size", "128", "--n-critic", "2")  # ring8: 20,000 points, 78 steps an epoch


@attrs.define
class Recorder(Callback):
    """Records its calls, and counts critic and generator steps in a tensor it keeps as state."""

    name = "recorder"
    log: ClassVar[list[tuple]] = []
    grad_enabled: ClassVar[set[bool]] = set()
    ctrl_c_after: ClassVar[list[int]] = [0]  # generator steps before a Ctrl-C; 0: never
    steps: Tensor | None = attrs.field(default=None, init=False)

    def check(self, model):
        self.log.append(("check",))

    def setup(self, model):
        self.steps = torch.zeros(2, dtype=torch.long, device=model.device)
        self.log.append(("setup",))

    def on_start(self, run):
        self.log.append(("on_start", run.step, run.epoch, self.steps.tolist()))

    def after_critic_step(self, model):
        self.grad_enabled.add(torch.is_grad_enabled())
        self.steps[0].add_(1)

    def after_generator_step(self, model):
        self.grad_enabled.add(torch.is_grad_enabled())
        self.steps[1].add_(1)
        if self.ctrl_c_after[0] and int(self.steps[1]) == self.ctrl_c_after[0]:  # a test may read the host
            os.kill(os.getpid(), signal.SIGINT)

    def on_epoch_end(self, run):
        self.log.append(("on_epoch_end", run.step, run.epoch, self.steps.tolist()))

    def on_run_end(self, run):
        self.log.append(("on_run_end", run.step, run.finished, self.steps.tolist()))

    def state_dict(self):
        return {"steps": self.steps}


@attrs.define
class OtherEMA(ema_topk.EMA):
    """A second callback that gives a generator to sample."""

    name = "ema2"


@attrs.define
class Watcher(Callback):
    """Names ``result``: logs what the steps computed, as a third-party monitor of the critic would."""

    name = "watcher"

    def after_critic_step(self, model, result):
        return {"d_loss": result.losses.adversarial, "real_out": result.real_out.mean(), "ones": 1}

    def after_generator_step(self, model, result):
        return {"g_loss": result.losses.adversarial, "norm": result.grad_norm}


@attrs.define
class StepWatcher(Callback):
    """Sees every step's end, as the engine's own duties do, and counts them in a tensor it keeps."""

    name = "step-watcher"
    seen: ClassVar[list[tuple]] = []
    ends: Tensor | None = attrs.field(default=None, init=False)

    def setup(self, model):
        self.ends = torch.zeros((), dtype=torch.long, device=model.device)

    def on_step_end(self, run, end):
        self.ends.add_(1)
        flags = (end.end_of_epoch, end.logging, end.saving, end.last)
        self.seen.append((run.step, end.done, end.epoch, *flags, tuple(end.fake.shape), end.lr_g))

    def state_dict(self):
        return {"ends": self.ends}


@attrs.define
class BadLogger(Callback):
    name = "bad-logger"

    def after_generator_step(self, model):
        return [1.0]


class RecorderPlugin:
    @plugins.hookimpl
    def gancore_callbacks(self):
        return [Recorder, OtherEMA, Watcher, StepWatcher, BadLogger]


@pytest.fixture
def recorder(builtin_plugins_only, register_plugin):
    register_plugin(RecorderPlugin(), "recorder-plugin")
    register_plugin(ema_topk, "ema-topk")
    Recorder.log.clear()
    Recorder.grad_enabled.clear()
    Recorder.ctrl_c_after[0] = 0
    StepWatcher.seen.clear()
    return Recorder.log


def test_callbacks_are_called_in_run_order_and_resume_with_their_state(tmp_path, recorder):
    whole, split = tmp_path / "whole", tmp_path / "split"
    train(whole, "--callback", "recorder", "--steps", "100", *FAST)
    assert recorder == [
        ("check",),
        ("setup",),
        ("on_start", 0, 0, [0, 0]),
        ("on_epoch_end", 78, 1, [156, 78]),  # two critic steps per generator step
        ("on_run_end", 100, True, [200, 100]),
    ]
    assert Recorder.grad_enabled == {False}  # the step calls them under no_grad
    assert load_file(whole / "checkpoints/last.safetensors")["callback.recorder.steps"].tolist() == [200, 100]

    train(split, "--callback", "recorder", "--steps", "50", *FAST)
    recorder.clear()
    assert gan("run", "--resume", split, "--steps", "100").exit_code == 0
    # check() sees the fresh model; on_start comes after the checkpoint's state was loaded
    assert recorder == [
        ("check",),
        ("setup",),
        ("on_start", 50, 0, [100, 50]),
        ("on_epoch_end", 78, 1, [156, 78]),
        ("on_run_end", 100, True, [200, 100]),
    ]
    same_tensors(whole / "checkpoints/last.safetensors", split / "checkpoints/last.safetensors")


def test_a_callback_that_names_result_sees_the_step_and_logs_into_the_row(tmp_path, recorder):
    rows = train(tmp_path / "run", "--callback", "watcher", "--callback", "recorder", "--steps", "20", *FAST,
                 log_every=10)  # fmt: skip
    assert [r["step"] for r in rows] == [10, 20]
    for row in rows:  # the same tensors, averaged over the same steps: equal to the engine's own
        assert row["watcher/d_loss"] == row["d_loss"] and row["watcher/g_loss"] == row["g_loss"]
        assert row["watcher/norm"] == row["g_grad_norm"] and row["watcher/ones"] == 1.0
        assert -1e3 < row["watcher/real_out"] < 1e3
    assert Recorder.grad_enabled == {False}  # a callback that does not name result is still called


def test_a_callback_sees_every_step_end_before_the_checkpoint(tmp_path, recorder):
    run = tmp_path / "run"
    train(run, "--callback", "step-watcher", "--steps", "80", "--lr-g", "0.001", *FAST, log_every=40)
    seen = StepWatcher.seen
    assert [s[:3] for s in seen] == [(n, n, (n - 1) // 78) for n in range(1, 81)]  # 78 steps an epoch
    flags = {s[1]: s[3:7] for s in seen if any(s[3:7])}
    # (end of epoch, logging, saving, last)
    assert flags == {40: (0, 1, 0, 0), 78: (1, 0, 1, 0), 80: (0, 1, 1, 1)}
    assert {s[7:] for s in seen} == {((128, 2), 0.001)}  # the step's generated batch; the lr it used
    # the count at the last step was taken before the checkpoint was written
    assert load_file(run / "checkpoints/last.safetensors")["callback.step-watcher.ends"].item() == 80


def test_a_callback_returning_something_else_is_one_line(tmp_path, recorder):
    run = tmp_path / "run"
    result = gan("run", "--dataset", "ring8", "--device", "cpu", "--steps", "5", "--callback", "bad-logger",
                 "--out", run)  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "callback 'bad-logger': after_generator_step returned list; return None or a dict" in result.output
    assert "Traceback" not in result.output


def test_ctrl_c_ends_the_run_for_the_callbacks_after_its_checkpoint(tmp_path, recorder):
    Recorder.ctrl_c_after[0] = 30
    result = gan("run", "--dataset", "ring8", "--device", "cpu", "--callback", "recorder", "--steps", "100",
                 *FAST, "--out", tmp_path / "run")  # fmt: skip
    assert result.exit_code == 130 and "interrupted at step 30" in result.output
    assert recorder[-1] == ("on_run_end", 30, False, [60, 30])
    saved = load_file(tmp_path / "run/checkpoints/last.safetensors")["callback.recorder.steps"]
    assert saved.tolist() == [60, 30]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--callback", "emma"], "unknown callback 'emma'; did you mean 'ema'?"),
        (["--callback", "ema", "--callback", "ema"], "--callback ema is given twice"),
        (["--callback", "ema", "--callback", "ema2"], "callbacks 'ema' and 'ema2' both give a generator"),
        (["--weighting", "topk"], "--weighting topk weights per-sample losses, but loss 'vanilla' returns"),
        (["--callback", "ema", "--ema-decay", "1.5"], "callback 'ema': 'ema_decay' must be <= 1.0"),
    ],
)
def test_bad_selections_are_one_line_before_the_run_folder_exists(tmp_path, recorder, args, message):
    run = tmp_path / "run"
    result = gan("run", "--dataset", "ring8", "--device", "cpu", "--steps", "5", *args, "--out", run)
    assert result.exit_code == 2 and message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and not run.exists()


# --- nothing changed for a run without callbacks ---------------------------------------------------

#: sha256 over (key, dtype, shape, bytes) of every tensor of last.safetensors, computed with the engine
#: of commit 0ae0549 (before callbacks and per-sample losses) on each platform (torch, CPU capability,
#: CPU vendor) of ``REFERENCE_PLATFORMS``: kernels differ across CPUs and torch builds (AMD's and
#: Intel's AVX512 machines give different bits), so elsewhere the test is skipped (the resume tests
#: still hold). Each platform's digests in the order of ``REFERENCE_DIGESTS``.
REFERENCE_PLATFORMS = {
    ("2.14.1+cu130", "AVX512", "AuthenticAMD"): (
        "4431ca0a9d15d1e1a74edb116d11675ef4e027147ec535d1aa95ece9c6356d39",
        "8c4c623bf90ee61fea80c96627febd8c162ce6546284c13bfb39cbe0306b36d5",
    ),
    ("2.14.1+cu130", "AVX512", "GenuineIntel"): (  # 0ae0549 and this engine, 2026-12-05
        "a3abfd68e301c552d48429eb07dea5ae326e55782e5e19839c9c4235b767f0d3",
        "8e658f732c4fe7cc2d9ecf402ac5c08c2cc37513c9cbb7905d767190e8a13d9d",
    ),
}
REFERENCE_DIGESTS = {
    "plain": ("--steps", "40", "--n-critic", "2", "--seed", "1"),
    "wgan-gp-modeseek-n-gen": (
        *("--steps", "30", "--n-gen", "2", "--seed", "2", "--loss", "wgan-gp", "--reg", "modeseek"),
        # wgan-gp recommended these until 2026-12-03
        *("--lr-d", "1e-4", "--lr-g", "1e-4", "--gp-share", "1"),
    ),
}


def cpu_vendor() -> str:
    """The CPU's vendor (``GenuineIntel``, ``AuthenticAMD``) where Linux says it, else the platform's word."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("vendor_id"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def tensor_digest(path, leave_out: tuple[str, ...] = ()) -> str:
    digest = hashlib.sha256()
    tensors = load_file(path)
    for key in sorted(k for k in tensors if not k.startswith(leave_out)):
        t = tensors[key].contiguous()
        digest.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


@pytest.mark.parametrize("case", sorted(REFERENCE_DIGESTS))
def test_a_run_without_callbacks_is_bit_for_bit_what_it_was(tmp_path, case):
    here = (torch.__version__, torch.backends.cpu.get_cpu_capability(), cpu_vendor())
    if here not in REFERENCE_PLATFORMS:
        pytest.skip(
            f"the reference digests come from torch/CPU/vendor {list(REFERENCE_PLATFORMS)}, not {here}"
        )
    if any(importlib.util.find_spec(m) is None for m in ("gan_wgan", "gan_modeseek")):
        pytest.skip("the plugin packages are not installed")
    args = REFERENCE_DIGESTS[case]
    expected = REFERENCE_PLATFORMS[here][list(REFERENCE_DIGESTS).index(case)]
    train(tmp_path / "run", *args)  # ring8, CPU, batch 32, one thread
    last = tmp_path / "run" / "checkpoints" / "last.safetensors"
    if "wgan-gp" not in args:  # wgan-gp recommends an EMA since 2026-12-03: it samples, never trains
        assert not any(k.startswith(("callback.", "sampled_generator.")) for k in load_file(last))
    # the monitors' state (wgan-gp's spectral-product vectors) joined checkpoints after the reference
    leave_out = ("monitor.", "callback.", "sampled_generator.")
    assert tensor_digest(last, leave_out=leave_out) == expected


def test_eval_every_draws_from_the_sampled_generator(tmp_path, recorder):
    registry = plugins.get_registry()
    settings = {"dataset": "ring8", "device": "cpu", "batch_size": 128, "steps": 156, "eval_every": 1,
                "eval_samples": 300, "callbacks": ["ema"]}  # fmt: skip
    config = resolve(registry, settings, {"ema_decay": 0.9})
    evaluated: list[Tensor] = []

    def evaluators(config, device):
        return lambda samples: evaluated.append(samples) or {"n": float(len(samples))}

    runs.start(config, tmp_path / "run", registry=registry, evaluators=evaluators)
    (samples,) = evaluated  # one epoch, one evaluation, before the epoch's checkpoint
    pipe, _, _ = runs.open_run(tmp_path / "run", "cpu", live=True)
    tensors = load_file(tmp_path / "run/checkpoints/last.safetensors")
    for live in (True, False):
        prefix = "generator." if live else "sampled_generator."
        weights = {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}
        pipe.generator.load_state_dict(weights)
        torch.manual_seed(0 * 1_000_003 + 1)  # what evaluate seeds for (seed 0, epoch 1)
        assert Plain().sample(pipe.model, 300).equal(samples) is not live


def test_a_static_after_step_is_told_the_result_too():
    """A callback whose after_critic_step is a staticmethod (no __func__) is still asked what it names."""
    from types import SimpleNamespace

    from gancore.train import callbacks

    class Static(Callback):
        name = "static"

        @staticmethod
        def after_critic_step(model, result):
            return {"seen": result}

    model = SimpleNamespace(device=torch.device("cpu"))
    pipe = SimpleNamespace(callbacks=[("static", Static())], model=model)
    logged = callbacks.after_step(pipe, "after_critic_step", torch.tensor(3.0))
    assert list(logged) == ["static/seen"] and logged["static/seen"].item() == 3.0
