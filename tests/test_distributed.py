"""Data-parallel training under torchrun's launcher: 2 CPU processes (gloo) on the ring8 toy.

The 2-process runs are subprocesses (`gan run --nproc 2`): a process group needs processes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from gancore.errors import ConfigError
from gancore.io import checkpoint
from gancore.plugins import get_registry
from gancore.testing import gan
from gancore.train.assembly import check_data_parallel
from gancore.train.distributed import World, check_batch

TOY = ["--dataset", "ring8", "--device", "cpu", "--log-every", "10"]
#: a wgan-gp critic (gradient penalty: a double backward) with spectral norm: what DDP would fight
GP_SN = ["--loss", "wgan-gp", "--critic-step", "lipschitz", "--spectral-norm", "--batch-size", "32"]
#: 2 processes against 1 with the same global batch: the same numbers up to the order of float sums
TOLERANCE = 1e-5


def launch(*args: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GANCORE_OFFLINE": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "gancore", "run", "--nproc", "2", *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def two_processes(*args: str) -> str:
    proc = launch(*args)
    output, _ = proc.communicate(timeout=240)
    assert proc.returncode == 0, output
    return output


def networks(run: Path) -> dict[str, torch.Tensor]:
    tensors = load_file(run / "checkpoints" / "last.safetensors")
    return {k: v for k, v in tensors.items() if k.startswith(("generator.", "critic."))}


def test_two_processes_train_as_one_with_the_same_global_batch(tmp_path: Path) -> None:
    common = [*TOY, "--steps", "40", "--batch-size", "64"]
    code, output = gan("run", *common, "--out", str(tmp_path / "one"))
    assert code == 0, output
    two_processes(*common, "--out", str(tmp_path / "two"))
    one, two = networks(tmp_path / "one"), networks(tmp_path / "two")
    assert one.keys() == two.keys()
    worst = max((one[k] - two[k]).abs().max().item() for k in one)
    assert worst < TOLERANCE  # measured: 1.7e-7 after 40 steps (float sums in another order)
    rows = [json.loads(line) for line in (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()]
    ref = [json.loads(line) for line in (tmp_path / "one" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [r["step"] for r in ref] == [10, 20, 30, 40]
    for mine, theirs in zip(rows, ref, strict=True):  # the logged means are the whole global batch's
        for key in ("d_loss", "g_loss", "d_grad_norm", "g_grad_norm"):
            assert mine[key] == pytest.approx(theirs[key], rel=TOLERANCE, abs=TOLERANCE), key
    config = (tmp_path / "two" / "config.toml").read_text()
    assert "batch_size = 64\n" in config and "processes = 2\n" in config
    assert "processes = 1\n" in (tmp_path / "one" / "config.toml").read_text()
    # a run of 2 processes resumes only on 2: its random streams are per process
    code, output = gan("run", "--resume", str(tmp_path / "two"), "--steps", "50")
    assert code == 2 and "trained by 2 process(es)" in output and "Traceback" not in output


def test_resume_on_two_processes_is_exact_with_penalty_and_spectral_norm(tmp_path: Path) -> None:
    whole, split = tmp_path / "whole", tmp_path / "split"
    two_processes(*TOY, *GP_SN, "--steps", "12", "--ckpt-every", "6", "--out", str(whole))
    # the run as it stood at step 6: its folder with the step-6 checkpoint as the last one
    shutil.copytree(whole, split)
    saved = split / "checkpoints"
    shutil.copy(saved / "step-000000006.safetensors", saved / "last.safetensors")
    two_processes("--resume", str(split), "--steps", "12")
    a = load_file(whole / "checkpoints" / "last.safetensors")
    b = load_file(split / "checkpoints" / "last.safetensors")
    assert a.keys() == b.keys()
    assert {"distributed_rng.rank0.cpu", "distributed_rng.rank1.cpu", "distributed_rng.batches"} <= a.keys()
    for key in a:  # networks, optimizer state, every rank's random streams: bit for bit
        assert a[key].equal(b[key]), key
    # the ranks' own streams differ (the penalty's interpolation draws differ per process)
    assert not a["distributed_rng.rank0.cpu"].equal(a["distributed_rng.rank1.cpu"])
    rows = [json.loads(line) for line in (whole / "metrics.jsonl").read_text().splitlines()]
    assert all(row["reg/gp"] > 0 for row in rows)  # the penalty ran on both ranks' batches


def rank_pid(launcher: int, rank: int) -> int | None:
    """The pid of the worker process with RANK=``rank`` among the launcher's children."""
    children = Path(f"/proc/{launcher}/task/{launcher}/children")
    for pid in children.read_text().split() if children.exists() else []:
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"RANK={rank}".encode() in environ:
            return int(pid)
    return None


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="finds the rank's pid in /proc (Linux)")
def test_killing_one_process_stops_the_others_and_keeps_the_last_checkpoint(tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = launch(*TOY, "--steps", "100000", "--batch-size", "32", "--ckpt-every", "10", "--out", str(run))
    deadline = time.monotonic() + 120
    while not (run / "checkpoints" / "step-000000020.safetensors").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
        time.sleep(0.2)
    victim = rank_pid(proc.pid, 1)
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1, output
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 2, output  # rank 0's line, then the launcher's
    # rank 0 sees the broken connection, or (rarely) the launcher's SIGTERM first
    assert errors[0].startswith("error: rank 0: ")
    assert "another process of this run stopped or was killed" in errors[0] or "SIGTERM" in errors[0]
    assert "process 1 of 2 was killed by SIGKILL" in errors[1]
    _, meta = checkpoint.read(run / "checkpoints" / "last.safetensors")  # complete, loadable
    step = int(meta["step"])
    assert step >= 20 and step % 10 == 0
    assert f"(step {step}), is kept" in errors[0]
    numbered = sorted((run / "checkpoints").glob("step-*.safetensors"))
    assert int(checkpoint.read(numbered[-1])[1]["step"]) == step  # last.safetensors is the newest one
    assert not list((run / "checkpoints").glob("*.tmp*"))


def test_batch_size_must_split_evenly() -> None:
    check_batch(World(0, 2), 64)
    with pytest.raises(ConfigError, match="--batch-size 63 is the global batch"):
        check_batch(World(0, 2), 63)


def test_rank_slices_partition_every_global_batch() -> None:
    rows = torch.arange(3 * 8)  # 3 critic batches of a global 8
    mine = [World(r, 2).rows(rows, 3) for r in range(2)]
    assert mine[0].tolist() == [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19]
    assert mine[1].tolist() == [4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23]
    assert World().rows(rows, 3) is rows


class _Refuses:
    kind, name = "weighting", "topk"
    data_parallel_refusal = "it ranks the whole batch"


class _Pipe:
    class config:  # stands for a RunConfig
        cuda_graphs = False

    def components(self) -> list[object]:
        return [_Refuses()]


def test_a_component_that_cannot_train_on_shares_is_refused_under_torchrun() -> None:
    check_data_parallel(_Pipe(), World())  # one process: fine
    with pytest.raises(ConfigError, match="weighting 'topk' cannot train under torchrun: it ranks"):
        check_data_parallel(_Pipe(), World(0, 2))
    assert "k best-scored samples" in get_registry().get("weighting", "topk").cls.data_parallel_refusal


def test_help_says_the_batch_is_global_and_how_to_start_processes() -> None:
    code, output = gan("run", "--help")
    assert code == 0
    text = " ".join(output.replace("│", " ").split())
    assert "global batch size; under torchrun N processes take 1/N of it each" in text
    assert "train on N processes of this machine" in text


def test_nproc_under_torchrun_or_below_one_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    code, output = gan("run", "--nproc", "0")
    assert code == 2 and "--nproc must be at least 1" in output
    monkeypatch.setenv("WORLD_SIZE", "2")
    code, output = gan("run", "--nproc", "2")
    assert code == 2 and "drop it when running under torchrun" in output


def test_the_launch_configuration_leaves_out_what_an_older_torch_lacks(monkeypatch) -> None:
    import dataclasses

    import torch.distributed.launcher.api as api

    from gancore.cli.launch import launch_config

    config = launch_config(3)
    assert config.nproc_per_node == 3 and config.max_restarts == 0 and config.rdzv_endpoint == "localhost:0"
    if "shutdown_timeout" in {field.name for field in dataclasses.fields(api.LaunchConfig)}:
        assert config.shutdown_timeout == 120  # torch 2.14's launcher has the option

    @dataclasses.dataclass
    class OlderLaunchConfig:  # torch 2.11's: no shutdown_timeout (TypeError when it was passed)
        min_nodes: int
        max_nodes: int
        nproc_per_node: int
        run_id: str = ""
        rdzv_backend: str = "etcd"
        rdzv_endpoint: str = ""
        max_restarts: int = 3

    monkeypatch.setattr(api, "LaunchConfig", OlderLaunchConfig)
    older = launch_config(2)
    assert isinstance(older, OlderLaunchConfig) and older.nproc_per_node == 2 and older.rdzv_backend == "c10d"
