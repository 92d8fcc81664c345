"""`gan sweep --cluster`: the [cluster] table, the Slurm job script submitit writes from it, and two
tiny ring8 jobs through submitit's local executor that equal the default pool's and are skipped on
restart."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

from gancore.errors import ConfigError
from gancore.testing import gan
from gancore.tools.cluster import ClusterConfig, make_executor, read_cluster_config


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_the_cluster_table_is_read_with_its_defaults(tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", '[cluster]\npartition = "gpu"\ncpus_per_job = 4\nmem_gb = 16\n'
                   'time_min = 30\nsetup = ["source .venv/bin/activate"]\n')  # fmt: skip
    slurm = read_cluster_config("slurm", config)
    assert (slurm.partition, slurm.cpus_per_job, slurm.mem_gb, slurm.time_min) == ("gpu", 4, 16, 30)
    assert slurm.setup == ("source .venv/bin/activate",) and slurm.max_parallel == 0
    assert slurm.gpus == 1 and read_cluster_config("local", None).gpus == 0  # GPUs on Slurm unless told
    assert read_cluster_config("local", None) == ClusterConfig(engine="local")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[cluster]\ngpus = 2\n", "unknown key 'gpus' in [cluster]"),
        ("[cluster]\npartition = 3\n", "partition in [cluster] of .* must be a string, got 3"),
        ("[cluster]\ntime_min = 0\n", "time_min in [cluster] of .* must be >= 1, got 0"),
        ('[cluster]\nsetup = "module load cuda"\n', "setup in [cluster] of .* must be a list of strings"),
        ('partition = "gpu"\n', "has no [cluster] table"),
        ("[cluster\n", "is not valid TOML"),
    ],
)
def test_a_bad_cluster_table_is_one_error(tmp_path: Path, text: str, message: str) -> None:
    pattern = message.replace("[", r"\[").replace("]", r"\]")
    with pytest.raises(ConfigError, match=pattern):
        read_cluster_config("slurm", write(tmp_path / "c.toml", text))


def test_the_slurm_job_script_carries_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # submitit's Slurm executor wants srun on the PATH; a stand-in is enough to build the script
    fake = tmp_path / "bin"
    fake.mkdir()
    write(fake / "srun", "#!/bin/sh\nexit 0\n").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{__import__('os').environ['PATH']}")
    config = ClusterConfig(engine="slurm", partition="gpu", account="lab", gpus_per_job=2, cpus_per_job=8,
                           time_min=90, setup=("module load cuda",))  # fmt: skip
    script = make_executor(
        config, tmp_path / "submitit", "gan-a-seed-0"
    )._executor._make_submission_file_text("python -m x", "0")
    for line in ("--partition=gpu", "--account=lab", "--gpus-per-node=2", "--cpus-per-task=8", "--time=90",
                 "--job-name=gan-a-seed-0"):  # fmt: skip
        assert f"#SBATCH {line}\n" in script, script
    assert "\nmodule load cuda\n" in script and "--mem" not in script


def test_cluster_flags_refused_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write(tmp_path / "a.toml", 'dataset = "ring8"\n')
    out = tmp_path / "out"
    monkeypatch.setitem(sys.modules, "submitit", None)  # what an environment without submitit sees
    for args, message in [
        (["--cluster", "local"], "--cluster needs submitit, which is not installed: pip install submitit"),
        (["--cluster", "lsf"], "--cluster 'lsf' is not an engine gan sweep knows"),
        (["--cluster-config", config], "--cluster-config needs --cluster"),
        (["--cluster", "local", "--devices", "cpu,cpu"], "give one device"),
    ]:
        code, output = gan("sweep", config, "--out", out, *args)
        assert code == 2 and message in output and len(output.strip().splitlines()) == 1, output
    assert not out.exists()


def evaluated(run: Path) -> dict:
    """eval.json without what differs between two equal runs: timings and the run's own paths."""
    values = json.loads((run / "eval.json").read_text())
    return {k: v for k, v in values.items() if k not in ("seconds", "sampling_seconds", "run", "checkpoint")}


def test_local_executor_jobs_equal_the_default_pool_and_restart_skips_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # both paths on one thread: bit-for-bit comparable
    config = write(tmp_path / "tiny.toml", 'dataset = "ring8"\nbatch_size = 1000\nlog_every = 10\n')
    common = ["--seeds", "2", "--steps", "20", "--eval-samples", "500"]
    # the default pool, two jobs at a time as the local executor runs them
    code, output = gan("sweep", config, *common, "--devices", "cpu,cpu", "--out", tmp_path / "pool")
    assert code == 0, output
    code, output = gan("sweep", config, *common, "--cluster", "local", "--out", tmp_path / "local")
    assert code == 0, output
    assert output.count("train and eval submitted to local as job") == 2, output
    for seed in (0, 1):
        pool, local = (
            tmp_path / "pool" / "tiny" / f"seed-{seed}",
            tmp_path / "local" / "tiny" / f"seed-{seed}",
        )
        a, b = (
            load_file(pool / "checkpoints/last.safetensors"),
            load_file(local / "checkpoints/last.safetensors"),
        )
        assert a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a), f"seed {seed} differs"
        assert evaluated(pool) == evaluated(local)
        status = json.loads((tmp_path / "local" / "logs" / f"tiny-seed-{seed}.json").read_text())
        assert status["state"] == "evaluated"
    seeds = [load_file(tmp_path / f"pool/tiny/seed-{seed}/checkpoints/last.safetensors") for seed in (0, 1)]
    weights = [k for k in seeds[0] if k.startswith("generator.")]
    assert weights and not all(seeds[0][k].equal(seeds[1][k]) for k in weights)  # two seeds, two runs

    # again: both jobs are skipped before anything is submitted, nothing is retrained or re-evaluated
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "local").rglob("*.safetensors")}
    code, output = gan("sweep", config, *common, "--cluster", "local", "--out", tmp_path / "local")
    assert code == 0 and output.count("evaluated earlier, skipped") == 2 and "submitted" not in output, output
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "local").rglob("*.safetensors")} == stamps
