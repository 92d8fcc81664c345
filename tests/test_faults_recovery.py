"""Fault injection: runs killed (SIGKILL, SIGTERM) at seeded points, during steps and checkpoint or
metrics writes, resume to exactly what an uninterrupted run writes; a second process is refused;
damaged checkpoints and torn metrics are refused or skipped in one line.

A training process here is a fork of the test process (torch is imported once, so a kill costs a
few milliseconds, not a Python start-up); the fork arms one fault, then runs the real `gan` CLI.
Faults fire on the Nth occurrence of an event inside that process (a training step, a checkpoint
file written, a rename into checkpoints/, a metrics row), with N drawn from a seeded generator:
the same kill points on every machine, however loaded.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections import Counter
from pathlib import Path

import attrs
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from gancore import plugins, testing
from gancore.components import Regularizer
from gancore.errors import CheckpointError
from gancore.io import atomic, checkpoint, lock
from gancore.io.rundir import RunDir
from gancore.train import loop
from tests.conftest import gan, same_tensors

FAST = ["--dataset", "ring8", "--device", "cpu", "--batch-size", "128", "--log-every", "10"]
STEPS = 60
#: numbered checkpoints that do not fall on log rows: resumes start between two rows
CKPT = ["--ckpt-every", "15"]
EVENTS = ("step", "checkpoint-written", "rename", "metrics-row")
TIMING = {"time", "it_s"}  # the only columns that differ between two identical runs


@attrs.frozen
class Fault:
    """On the ``nth`` (1-based) ``event`` in the process: send it ``sig``, or ``pause`` there."""

    event: str
    nth: int
    sig: int = signal.SIGKILL
    pause: Path | None = None  # write PAUSE/ready, then wait for PAUSE/go

    def fire(self) -> None:
        if self.pause is not None:
            (self.pause / "ready").touch()
            deadline = time.monotonic() + 120
            while not (self.pause / "go").exists() and time.monotonic() < deadline:
                time.sleep(0.02)
        else:
            os.kill(os.getpid(), self.sig)

    def arm(self) -> None:
        """Wrap the event's function in this (forked) process only; the fork exits afterwards."""
        seen = [0]

        def hit() -> bool:
            seen[0] += 1
            return seen[0] == self.nth

        if self.event == "step":
            iteration = loop.Trainer.iteration

            def step(trainer, *args):
                if hit():
                    self.fire()
                return iteration(trainer, *args)

            loop.Trainer.iteration = step
        elif self.event == "checkpoint-written":  # the temporary is complete, not yet renamed
            save = checkpoint.save_file

            def written(tensors, filename, metadata=None):
                save(tensors, filename, metadata=metadata)
                if hit():
                    self.fire()

            checkpoint.save_file = written
        elif self.event == "rename":  # e.g. between the numbered checkpoint and last
            replace = os.replace

            def rename(src, dst):
                if Path(dst).parent.name == "checkpoints" and hit():
                    self.fire()
                replace(src, dst)

            atomic.os.replace = rename
        elif self.event == "metrics-row":  # killed: half the row reaches the file
            append = RunDir.append_metrics

            def row(run, values):
                if hit():
                    if self.sig == signal.SIGKILL:
                        text = json.dumps(values) + "\n"
                        with run.metrics.open("a") as fh:
                            fh.write(text[: len(text) // 2])
                    self.fire()
                return append(run, values)

            RunDir.append_metrics = row


def forked(
    *argv: str | os.PathLike, fault: Fault | None = None, log: Path | None = None
) -> tuple[int | None, int | None]:
    """Run `gan ARGV` in a fork of this process; returns (exit code, killing signal), one of them None.
    ``log`` receives what the command printed (unless it was killed)."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 3
        try:
            if fault is not None:
                fault.arm()
            code, output = testing.gan(*argv)
            if log is not None:
                log.write_text(output)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return None, os.WTERMSIG(status)
    return os.WEXITSTATUS(status), None


def rows_without_timing(run: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


def same_run(run: Path, reference: Path) -> None:
    """Bit-identical final and numbered checkpoints, identical metrics rows, no temporary left."""
    same_tensors(run / "checkpoints/last.safetensors", reference / "checkpoints/last.safetensors")
    numbered = sorted(p.name for p in (reference / "checkpoints").glob("step-*"))
    assert sorted(p.name for p in (run / "checkpoints").glob("step-*")) == numbered
    for name in numbered:
        same_tensors(run / "checkpoints" / name, reference / "checkpoints" / name)
    assert rows_without_timing(run) == rows_without_timing(reference)
    assert not list(run.rglob(".*.tmp-*"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The uninterrupted run every interrupted one must equal."""
    run = tmp_path_factory.mktemp("reference") / "run"
    with testing.single_thread():
        assert gan("run", *FAST, *CKPT, "--steps", STEPS, "--out", run).exit_code == 0
    return run


def test_runs_killed_at_random_points_resume_to_the_uninterrupted_run(tmp_path, reference):
    rng = random.Random(16)  # the kill points: the same on every machine
    kills: Counter[tuple[str, str]] = Counter()  # (signal, event) -> kills survived
    for chain in range(6):
        run = tmp_path / f"run-{chain}"
        argv = ["run", *FAST, *CKPT, "--steps", STEPS, "--out", run]
        for _ in range(12):
            event = rng.choice(EVENTS)
            limit = {"step": 20, "checkpoint-written": 3, "rename": 4, "metrics-row": 4}[event]
            sig = rng.choice([signal.SIGKILL, signal.SIGKILL, signal.SIGTERM])
            fault = Fault(event, rng.randint(1, limit), sig)
            code, killed = forked(*argv, fault=fault, log=tmp_path / "child.log")
            if code == 0:  # the fault's event did not come before the end
                break
            assert killed == signal.SIGKILL or code == 130, (
                fault,
                code,
                (tmp_path / "child.log").read_text(),
            )
            kills[sig.name, event] += 1
            argv = ["run", "--resume", run]
        else:
            assert forked(*argv) == (0, None)
        same_run(run, reference)
    print(f"survived {sum(kills.values())} kills:", dict(sorted(kills.items())))
    # the seeded draw gives 30 kills; fewer would mean the faults stopped firing, not that one failed
    by_signal = Counter(name for name, _ in kills.elements())
    assert by_signal["SIGKILL"] >= 15 and by_signal["SIGTERM"] >= 4
    written = [kills["SIGKILL", e] + kills["SIGTERM", e] for e in ("checkpoint-written", "rename")]
    assert sum(written) >= 5  # some of them while a checkpoint was being written


def test_a_second_process_is_refused_and_the_first_is_unaffected(tmp_path, reference):
    run = tmp_path / "run"
    assert gan("run", *FAST, *CKPT, "--steps", 20, "--out", run).exit_code == 0
    pause = tmp_path / "pause"
    pause.mkdir()
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            Fault("step", 7, pause=pause).arm()
            code, _ = testing.gan("run", "--resume", run, "--steps", STEPS)
        finally:
            os._exit(code)
    try:
        deadline = time.monotonic() + 120
        while not (pause / "ready").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
        second = gan("run", "--resume", run, "--steps", STEPS)
        assert second.exit_code == 2
        assert f"is in use by pid {pid} on " in second.output and "Traceback" not in second.output
        assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before  # wrote nothing
    finally:
        (pause / "go").touch()
        _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    same_run(run, reference)


def _flip_tensor_bytes(path: Path) -> None:
    """Damage the tensor data after the header, as a bad disk would: the file still parses."""
    data = bytearray(path.read_bytes())
    for offset in range(len(data) - 64, len(data) - 32):
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_corrupt_checkpoint_is_refused_and_resume_falls_back_to_a_numbered_one(tmp_path, reference):
    run = tmp_path / "run"
    assert gan("run", *FAST, *CKPT, "--steps", 45, "--out", run).exit_code == 0
    _flip_tensor_bytes(run / "checkpoints/last.safetensors")
    _flip_tensor_bytes(run / "checkpoints/step-000000045.safetensors")
    with pytest.raises(CheckpointError, match="checksum does not match"):
        checkpoint.read(run / "checkpoints/last.safetensors")
    sampled = gan("sample", run, "--n", "8", "--out", tmp_path / "s.npz")
    assert sampled.exit_code == 2 and "is corrupt" in sampled.output and "Traceback" not in sampled.output
    resumed = gan("run", "--resume", run, "--steps", STEPS)
    assert resumed.exit_code == 0, resumed.output
    assert "last.safetensors is corrupt" in resumed.output
    assert "resuming from step-000000030.safetensors instead" in resumed.output
    same_run(run, reference)


def test_a_checkpoint_missing_a_required_key_is_refused_and_an_old_one_still_loads(tmp_path, reference):
    path = reference / "checkpoints/step-000000015.safetensors"
    with safe_open(str(path), "pt") as fh:
        meta = fh.metadata()
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 - not a dict
    old = {k: v for k, v in meta.items() if k != checkpoint.CHECKSUM}  # written before checksums
    save_file(tensors, str(tmp_path / "old.safetensors"), metadata=old)
    loaded, _ = checkpoint.read(tmp_path / "old.safetensors")
    assert loaded["rng.cpu"].equal(tensors["rng.cpu"])
    for key in ("rng.cpu", "step", "spec"):
        kept = {k: v for k, v in tensors.items() if k != key}
        save_file(
            kept, str(tmp_path / "bad.safetensors"), metadata={k: v for k, v in old.items() if k != key}
        )
        with pytest.raises(CheckpointError, match=f"lacks '{key}'"):
            checkpoint.read(tmp_path / "bad.safetensors")


def test_a_torn_metrics_line_is_skipped_by_plot_and_report_and_dropped_by_resume(tmp_path, reference):
    run = tmp_path / "run"
    killed = forked("run", *FAST, *CKPT, "--steps", STEPS, "--out", run, fault=Fault("step", 53))
    assert killed == (None, signal.SIGKILL)  # after the checkpoint of step 45 and the row of step 50
    with (run / "metrics.jsonl").open("a") as fh:
        fh.write('{"step": 3025, "epo')
    plotted = gan("plot", run, "--out", tmp_path / "m.png")
    assert plotted.exit_code == 0 and "skipped its last line" in plotted.output
    reported = gan("report", run, "--out", tmp_path / "report")
    assert reported.exit_code == 0 and "skipped its last line" in reported.output
    assert gan("run", "--resume", run).exit_code == 0
    same_run(run, reference)


def test_temporaries_of_dead_processes_are_removed_at_the_next_start(tmp_path, reference):
    run = tmp_path / "run"
    assert gan("run", *FAST, *CKPT, "--steps", 45, "--out", run).exit_code == 0
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)  # reaped: no process has this id any more
    orphan = run / "checkpoints" / f".last.tmp-{dead}-0123abcd.safetensors"
    live = run / f".eval.tmp-{os.getpid()}-89abcdef.json"  # a writer still at work (this process)
    orphan.write_bytes(b"x" * 1000)
    live.write_text("{}")
    assert gan("run", "--resume", run, "--steps", STEPS).exit_code == 0
    assert not orphan.exists() and live.exists()


def test_a_run_killed_before_its_first_checkpoint_resumes_from_step_0(tmp_path, reference):
    run = tmp_path / "run"
    assert forked("run", *FAST, *CKPT, "--steps", STEPS, "--out", run, fault=Fault("step", 9)) == (
        None,
        signal.SIGKILL,
    )
    assert not list((run / "checkpoints").glob("*.safetensors"))
    again = gan("run", *FAST, "--out", run)
    assert again.exit_code == 2 and f"--resume {run}" in again.output
    resumed = gan("run", "--resume", run)
    assert resumed.exit_code == 0, resumed.output
    assert "stopped before its first checkpoint; training it again from step 0" in resumed.output
    same_run(run, reference)


@attrs.define
class InfiniteGradientAt(Regularizer):
    """At step 39 (0-based) adds sqrt(0) = 0 to the critic loss: a finite loss whose gradient is inf."""

    name = "inf-grad"

    def critic_term(self, ctx):
        if ctx.step != 39:
            return None
        weight = next(ctx.model.critic.parameters())
        return torch.sqrt((weight - weight.detach()).sum())


class InfiniteGradientPlugin:
    @plugins.hookimpl
    def gancore_regularizers(self):
        return [InfiniteGradientAt]


def test_an_update_with_an_infinite_gradient_is_not_saved_as_last_good(tmp_path, register_plugin):
    register_plugin(InfiniteGradientPlugin(), "inf-grad-plugin")
    run = tmp_path / "run"
    result = gan("run", *FAST, "--reg", "inf-grad", "--ckpt-every", "20", "--steps", STEPS, "--out", run)
    assert result.exit_code == 1, result.output
    assert "the critic gradient norm became non-finite at step 40" in result.output
    _, meta = checkpoint.read(run / "checkpoints/last.safetensors")
    assert meta["step"] == "20"
    assert not (run / "checkpoints/step-000000040.safetensors").exists()


def test_a_single_ctrl_c_before_training_is_not_reported_twice(tmp_path, monkeypatch):
    from gancore.train import runs

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runs, "assemble", interrupted)  # the run being assembled
    result = gan("run", *FAST, "--steps", 5, "--out", tmp_path / "run")
    assert result.exit_code == 130
    assert "interrupted; nothing was saved" in result.output and "twice" not in result.output
    assert not (tmp_path / "run").exists()


def test_a_run_killed_while_starting_is_started_again_and_a_starting_one_is_left_alone(tmp_path):
    run = tmp_path / "run"
    for folder in ("samples", "checkpoints"):  # what a start makes before config.toml
        (run / folder).mkdir(parents=True)
    resumed = gan("run", "--resume", run)
    assert resumed.exit_code == 2 and "holds no run yet (it was stopped while starting)" in resumed.output
    with lock.hold(run):  # another process is starting this run
        refused = gan("run", *FAST, "--steps", 5, "--out", run)
        assert refused.exit_code == 2 and "is in use by pid" in refused.output
        assert sorted(p.name for p in run.iterdir()) == [".lock", "checkpoints", "samples"]  # left alone
    assert gan("run", *FAST, "--steps", 5, "--out", run).exit_code == 0
    _, meta = checkpoint.read(run / "checkpoints/last.safetensors")
    assert meta["step"] == "5"
