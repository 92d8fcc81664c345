"""The one atomic writer: a write that fails midway leaves the old file and no temporary behind."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from gancore.io import atomic
from gancore.io.atomic import atomic_path, temporary_name, write_atomic
from gancore.io.images import save_png
from gancore.io.rundir import RunDir


def test_text_and_bytes_round_trip(tmp_path):
    text, raw = tmp_path / "eval.json", tmp_path / "blob.bin"
    write_atomic(text, "ünïcode ✓\n")
    write_atomic(raw, bytes(range(256)))
    assert text.read_text(encoding="utf-8") == "ünïcode ✓\n"
    assert raw.read_bytes() == bytes(range(256))
    write_atomic(text, "second\n")  # replaces an existing file
    assert text.read_text() == "second\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blob.bin", "eval.json"]


def test_a_write_that_raises_midway_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("old = 1\n")
    with pytest.raises(RuntimeError, match="disk full"), atomic_path(path) as tmp:
        tmp.write_text("new = ")
        raise RuntimeError("disk full")
    assert path.read_text() == "old = 1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]


def test_a_failed_rename_removes_the_temporary(tmp_path, monkeypatch):
    path = tmp_path / "status.json"
    path.write_text("{}")

    def refuse(src, dst):
        raise OSError("cross-device link")

    monkeypatch.setattr(atomic.os, "replace", refuse)
    with pytest.raises(OSError, match="cross-device"):
        write_atomic(path, '{"state": "done"}')
    assert path.read_text() == "{}"
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]


def test_a_writer_that_writes_nothing_is_an_error_and_the_old_file_stays(tmp_path):
    path = tmp_path / "plot.png"
    path.write_bytes(b"old")
    with pytest.raises(FileNotFoundError, match="nothing was written"), atomic_path(path):
        pass
    assert path.read_bytes() == b"old"


def test_the_temporary_is_hidden_unique_and_keeps_the_suffix(tmp_path):
    # libraries that write by file name choose the format from the suffix (numpy adds .npz otherwise)
    path = tmp_path / "samples.npz"
    first, second = temporary_name(path), temporary_name(path)
    assert first != second and first.parent == tmp_path
    assert first.name.startswith(".samples.tmp-") and first.suffix == ".npz"
    assert str(os.getpid()) in first.name


def test_libraries_that_write_by_file_name(tmp_path):
    tensors = {"w": torch.arange(6.0).reshape(2, 3)}
    with atomic_path(tmp_path / "last.safetensors") as tmp:
        save_file(tensors, str(tmp))
    assert load_file(tmp_path / "last.safetensors")["w"].equal(tensors["w"])

    with atomic_path(tmp_path / "samples.npz") as tmp:
        np.savez_compressed(tmp, images=np.arange(4, dtype=np.uint8))
    assert np.load(tmp_path / "samples.npz")["images"].tolist() == [0, 1, 2, 3]

    picture = torch.randint(0, 256, (1, 5, 7), dtype=torch.uint8)
    save_png(picture, tmp_path / "grid.png")
    from PIL import Image

    assert np.array_equal(np.asarray(Image.open(tmp_path / "grid.png")), picture[0].numpy())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png", "last.safetensors", "samples.npz"]


def test_truncating_metrics_is_atomic_and_appends_stay_appends(tmp_path):
    run = RunDir(tmp_path / "run")
    run.create()
    for step in (10, 20, 30):
        run.append_metrics({"step": step})
    run.truncate_metrics(20)
    assert [r["step"] for r in run.read_metrics()] == [10, 20]
    run.append_metrics({"step": 30})
    assert [json.loads(line)["step"] for line in run.metrics.read_text().splitlines()] == [10, 20, 30]
    assert sorted(p.name for p in run.path.iterdir()) == ["checkpoints", "metrics.jsonl", "samples"]


def test_a_failing_png_write_keeps_the_previous_picture(tmp_path, monkeypatch):
    path = tmp_path / "epoch-0001.png"
    save_png(torch.zeros(1, 4, 4, dtype=torch.uint8), path)
    before = path.read_bytes()
    from PIL import Image

    def crash(self, fp, format=None, **params):
        Path(fp).write_bytes(b"\x89PNG half")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        save_png(torch.full((1, 4, 4), 255, dtype=torch.uint8), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["epoch-0001.png"]
