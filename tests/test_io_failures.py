"""I/O failures are one line and exit 2, with nothing half-written left behind: a read-only output
folder, and a disk that fills up in the middle of a run (the last good checkpoint is kept)."""

from __future__ import annotations

import builtins
import errno
import os
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gancore.io import atomic, checkpoint

RING = ["--dataset", "ring8", "--device", "cpu", "--batch-size", "32", "--log-every", "5"]


def invoke(*argv: object):
    from gancore.cli import app

    result = CliRunner().invoke(app, [str(a) for a in argv], env={"COLUMNS": "300"}, catch_exceptions=False)
    lines = [line for line in result.stderr.splitlines() if line.strip() and line.startswith("error:")]
    return result, lines


def _refuse_writes_under(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``folder`` behave as read-only for this process (chmod does not stop root)."""
    folder = folder.resolve()
    real_open, real_mkdir = builtins.open, os.mkdir

    def inside(path: object) -> bool:
        return isinstance(path, str | os.PathLike) and folder in Path(os.fspath(path)).resolve().parents

    def guarded_open(file, mode="r", *args, **kwargs):
        if inside(file) and any(m in mode for m in "wax+"):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(file))
        return real_open(file, mode, *args, **kwargs)

    def guarded_mkdir(path, *args, **kwargs):
        if inside(path):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(os, "mkdir", guarded_mkdir)


def test_read_only_output_folder_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    _refuse_writes_under(locked, monkeypatch)
    result, lines = invoke("run", *RING, "--steps", "3", "--out", locked / "run")
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and "Permission denied" in lines[0] and "permissions" in lines[0], result.stderr
    assert "Traceback" not in result.output
    assert list(locked.iterdir()) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="chmod does not stop root")
def test_really_read_only_folder(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result, lines = invoke("run", *RING, "--steps", "3", "--out", locked / "run")
        assert result.exit_code == 2 and len(lines) == 1 and "Permission denied" in lines[0]
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/fd")
def test_disk_full_mid_run_keeps_the_last_good_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second write of last.safetensors fails with ENOSPC at its flush (as a full disk does):
    one line saying so and how to continue, no temporary left, the step-10 checkpoint intact and
    resumable to the end."""
    real_fsync = os.fsync
    writes = []

    def full_disk(fd: int) -> None:
        name = os.readlink(f"/proc/self/fd/{fd}")
        if ".last.tmp-" in name:
            writes.append(name)
            if len(writes) == 2:
                raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", full_disk)
    run = tmp_path / "run"
    result, lines = invoke("run", *RING, "--steps", "30", "--ckpt-every", "10", "--out", run)
    assert result.exit_code == 2, result.output
    assert len(lines) == 1, result.stderr
    assert "No space left on device" in lines[0] and str(run / "checkpoints" / "last.safetensors") in lines[0]
    assert f"--resume {run}" in lines[0]
    assert "Traceback" not in result.output
    leftovers = [p.name for p in run.rglob("*") if ".tmp-" in p.name]
    assert leftovers == []
    _, meta = checkpoint.read(run / "checkpoints" / "last.safetensors")
    assert int(meta["step"]) == 10

    monkeypatch.setattr(atomic.os, "fsync", real_fsync)
    result, lines = invoke("run", "--resume", run)
    assert result.exit_code == 0, result.output
    _, meta = checkpoint.read(run / "checkpoints" / "last.safetensors")
    assert int(meta["step"]) == 30


def test_a_folder_in_the_way_of_a_file_is_one_line(tmp_path: Path) -> None:
    """``gan plot --out DIR``: the rename onto a folder fails; nothing is left beside it."""
    run = tmp_path / "run"
    result, _ = invoke("run", *RING, "--steps", "3", "--out", run)
    assert result.exit_code == 0, result.output
    (tmp_path / "plot.png").mkdir()
    result, lines = invoke("plot", run, "--out", tmp_path / "plot.png")
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert "plot.png" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plot.png", "run"]
