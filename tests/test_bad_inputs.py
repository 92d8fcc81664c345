"""Bad input to every command: exit code 2, one line on stderr, no traceback, and nothing created,
changed or removed in the folders around it (a snapshot of the tree before and after).

One small world is made once for the module (a trained toy run, configs, sample files, a broken
MNIST folder); every case runs `gan` in this process on it, with the world as the working folder.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from tests.conftest import blobs, write_idx

RING = ["--dataset", "ring8", "--device", "cpu", "--steps", "3"]
#: TOML files of the world: name -> text (each a run config with one bad value, unless named good)
CONFIGS = {
    "good": 'dataset = "ring8"\ndevice = "cpu"\nsteps = 3\nbatch_size = 32\n',
    "steps-float": "steps = 20.5\n",
    "epochs-float": "epochs = 0.01\n",
    "loss-number": "loss = 5\n",
    "seed-text": 'seed = "one"\n',
    "seed-huge": "seed = 9223372036854775807\n",
    "seed-negative": "seed = -1\n",
    "options-number": "options = 5\n",
    "options-bad-value": '[options]\ndropout = "high"\n',
    "options-nan": "[options]\ndropout = nan\n",
    "options-unknown": "[options]\nno_such_option = 1\n",
    "batch-text": 'batch_size = "abc"\n',
    "compile-text": 'compile = "no"\n',
    "cuda-graphs-number": "cuda_graphs = 1\n",
    "regs-twice": 'regs = ["gp", "gp"]\n',
    "regs-numbers": "regs = [1, 2]\n",
    "lr-nan": "lr_g = nan\n",
    "lr-inf": "lr_d = inf\n",
    "wd-negative": "weight_decay_d = -1.0\n",
    "clip-nan": "clip_grad = nan\n",
    "beta-one": "beta1 = 1.0\n",
    "device-number": "device = 5\n",
    "latent-bool": "latent_dim = true\n",
    "unknown-key": 'lossx = "vanilla"\n',
    "not-toml": "loss = \n",
    "monitor-unknown": 'dataset = "ring8"\nmonitors = "no-such-monitor"\n',
    "threads-zero": 'dataset = "ring8"\ndevice = "cpu"\nsteps = 3\nthreads = 0\n',
    "processes-three": 'dataset = "ring8"\ndevice = "cpu"\nsteps = 3\nprocesses = 3\n',
    "plugins-not-a-table": 'dataset = "ring8"\ndevice = "cpu"\nsteps = 3\nplugins = 5\n',
}
#: [cluster] tables of `gan sweep --cluster local --cluster-config`, each with one bad value
CLUSTERS = {"mem-nan": "mem_gb = nan", "mem-negative": "mem_gb = -5", "cpus-huge": "cpus_per_job = 100000"}

#: (id, argv, a piece the one line must hold); paths are relative to the world
CASES: list[tuple[str, list[str], str]] = [
    *[
        (f"run-config-{name}", ["run", "--config", f"{name}.toml", "--out", "new-run"], "")
        for name in CONFIGS
        if name != "good"
    ],
    ("run-config-folder", ["run", "--config", "a-folder", "--out", "new-run"], "is a folder"),
    ("run-config-missing", ["run", "--config", "missing.toml", "--out", "new-run"], "does not exist"),
    ("run-steps-float", ["run", *RING, "--steps", "20.5", "--out", "new-run"], "--steps"),
    ("run-lr-inf", ["run", *RING, "--lr-g", "inf", "--out", "new-run"], "--lr-g"),
    ("run-lr-nan", ["run", *RING, "--lr-d", "nan", "--out", "new-run"], "--lr-d"),
    ("run-wd-nan", ["run", *RING, "--weight-decay-d", "nan", "--out", "new-run"], "--weight-decay-d"),
    ("run-clip-nan", ["run", *RING, "--clip-grad", "nan", "--out", "new-run"], "--clip-grad"),
    ("run-clip-negative", ["run", *RING, "--clip-grad", "-1", "--out", "new-run"], "--clip-grad"),
    ("run-seed-overflow", ["run", *RING, "--seed", "9223372036854775807", "--out", "new-run"], "--seed"),
    ("run-seed-negative", ["run", *RING, "--seed", "-1", "--out", "new-run"], "--seed"),
    ("run-reg-twice", ["run", *RING, "--reg", "gp", "--reg", "gp", "--out", "new-run"], "given twice"),
    ("run-underscore-flag", ["run", *RING, "--lr_g", "0.1", "--out", "new-run"], "did you mean --lr-g?"),
    ("run-batch-zero", ["run", *RING, "--batch-size", "0", "--out", "new-run"], "--batch-size"),
    ("run-batch-text", ["run", *RING, "--batch-size", "abc", "--out", "new-run"], "--batch-size"),
    ("run-epochs-negative", ["run", *RING, "--epochs", "-1", "--out", "new-run"], "--epochs"),
    ("run-n-critic-zero", ["run", *RING, "--n-critic", "0", "--out", "new-run"], "--n-critic"),
    ("run-loss-unknown", ["run", *RING, "--loss", "no-such-loss", "--out", "new-run"], "unknown loss"),
    ("run-device-unknown", ["run", *RING, "--device", "tpu", "--out", "new-run"], "unknown device"),
    ("run-precision", ["run", *RING, "--precision", "fp8", "--out", "new-run"], "--precision"),
    ("run-optimizer", ["run", *RING, "--optimizer", "adamw", "--out", "new-run"], "--optimizer"),
    ("run-component-flag-text", ["run", *RING, "--dropout", "abc", "--out", "new-run"], "--dropout"),
    ("run-component-flag-nan", ["run", *RING, "--dropout", "nan", "--out", "new-run"], "--dropout"),
    ("run-stray-argument", ["run", *RING, "stray", "--out", "new-run"], "unexpected argument"),
    ("run-augment-unknown", ["run", *RING, "--augment", "no-such", "--out", "new-run"], "no-such"),
    ("run-schedule-garbage", ["run", *RING, "--schedule", "garbage", "--out", "new-run"], "garbage"),
    ("run-init-from-missing", ["run", *RING, "--init-from", "nowhere", "--out", "new-run"], "nowhere"),
    ("run-out-is-a-file", ["run", *RING, "--out", "a-file.txt"], "is a file"),
    ("run-out-existing-run", ["run", *RING, "--out", "run"], "already exists"),
    ("run-out-under-a-file", ["run", *RING, "--out", "a-file.txt/run"], "a-file.txt"),
    ("run-resume-missing", ["run", "--resume", "nowhere"], "does not exist"),
    ("run-resume-a-file", ["run", "--resume", "a-file.txt"], "a-file.txt"),
    ("run-resume-with-out", ["run", "--resume", "run", "--out", "x"], "--resume"),
    (
        "run-mnist-truncated",
        ["run", "--data-dir", "truncated", "--device", "cpu", "--out", "new-run"],
        "truncated",
    ),
    (
        "run-mnist-garbage",
        ["run", "--data-dir", "garbage", "--device", "cpu", "--out", "new-run"],
        "not an IDX file",
    ),
    ("sample-missing-run", ["sample", "nowhere"], "does not exist"),
    ("sample-batch-zero", ["sample", "run", "--batch-size", "0", "--out", "s.npz"], "--batch-size"),
    ("sample-n-zero", ["sample", "run", "-n", "0", "--out", "s.npz"], "-n"),
    ("sample-seed-overflow", ["sample", "run", "--seed", "99999999999999999999", "--out", "s.npz"], "--seed"),
    (
        "sample-sampler-unknown",
        ["sample", "run", "--sampler", "no-such", "--out", "s.npz"],
        "unknown sampler",
    ),
    (
        "sample-checkpoint-missing",
        ["sample", "run", "--checkpoint", "nowhere.safetensors", "--out", "s.npz"],
        "nowhere.safetensors",
    ),
    ("sample-out-exists", ["sample", "run", "--out", "a-file.txt"], "a-file.txt"),
    ("sample-device-unknown", ["sample", "run", "--device", "tpu", "--out", "s.npz"], "tpu"),
    ("sample-class-unconditional", ["sample", "run", "--class", "3", "--out", "s.npz"], "class 3"),
    ("sample-no-run", ["sample"], "Missing argument"),
    ("sample-unknown-flag", ["sample", "run", "--no-such-flag"], "--no-such-flag"),
    ("eval-strings-npz", ["eval", "strings.npz", "--dataset", "ring8"], "<U"),
    ("eval-uint16-npz", ["eval", "uint16.npz", "--dataset", "ring8"], "uint16"),
    ("eval-two-arrays", ["eval", "two.npz", "--dataset", "ring8"], "2 arrays"),
    ("eval-not-npz", ["eval", "a-file.txt", "--dataset", "ring8"], "not a readable .npz"),
    ("eval-missing", ["eval", "nowhere"], "nowhere"),
    ("eval-n-zero", ["eval", "run", "-n", "0"], "-n"),
    ("eval-nothing", ["eval"], "give a run folder"),
    ("eval-out-exists", ["eval", "run", "--out", "a-file.txt"], "already exists"),
    ("eval-dataset-unknown", ["eval", "points.npz", "--dataset", "no-such"], "no-such"),
    ("plot-missing", ["plot", "nowhere"], "nowhere"),
    ("plot-a-file", ["plot", "a-file.txt"], "a-file.txt"),
    ("plot-out-is-a-folder", ["plot", "run", "--out", "a-folder"], "a-folder"),
    ("plot-no-run", ["plot"], "Missing argument"),
    ("sweep-folder", ["sweep", "a-folder"], "is a folder"),
    ("sweep-missing", ["sweep", "missing.toml"], "does not exist"),
    ("sweep-bad-type", ["sweep", "steps-float.toml", "--out", "new-sweep"], "--steps"),
    ("sweep-bad-options", ["sweep", "options-number.toml", "--out", "new-sweep"], "options"),
    ("sweep-seeds-zero", ["sweep", "good.toml", "--seeds", "0", "--out", "new-sweep"], "--seeds"),
    ("sweep-seeds-text", ["sweep", "good.toml", "--seeds", "abc", "--out", "new-sweep"], "--seeds"),
    ("sweep-devices-empty", ["sweep", "good.toml", "--devices", ",", "--out", "new-sweep"], "--devices"),
    ("sweep-epochs-negative", ["sweep", "good.toml", "--epochs", "-1", "--out", "new-sweep"], "--epochs"),
    (
        "sweep-first-seed-huge",
        ["sweep", "good.toml", "--first-seed", str(2**40), "--out", "new-sweep"],
        "--first-seed",
    ),
    (
        "sweep-eval-samples-zero",
        ["sweep", "good.toml", "--eval-samples", "0", "--out", "new-sweep"],
        "--eval-samples",
    ),
    ("eval-n-real-zero", ["eval", "points.npz", "--dataset", "ring8", "--n-real", "0"], "--n-real"),
    ("eval-seed-overflow", ["eval", "run", "--seed", str(2**64)], "--seed"),
    ("report-missing", ["report", "nowhere", "--out", "new-report"], "nowhere"),
    ("report-over-a-report", ["report", "run", "--out", "old-report"], "--force"),
    ("report-out-is-a-file", ["report", "run", "--out", "a-file.txt"], "is a file"),
    ("report-no-runs", ["report"], "Missing argument"),
    ("plugins-show-unknown", ["plugins", "show", "no-such"], "no-such"),
    ("plugins-show-nothing", ["plugins", "show"], "Missing argument"),
    ("plugins-unknown-flag", ["plugins", "--no-such-flag"], "--no-such-flag"),
    ("unknown-command", ["no-such-command"], "no-such-command"),
    ("evaluator-train-over-a-file", ["evaluator", "train", "--out", "a-file.txt"], "already exists"),
    # issue 27: outputs that are not gancore's to replace, checked before the first byte
    *[
        (f"{command}-out-{name}", [command, "run", "--out", target], what)
        for command in ("plot", "eval")
        for name, target, what in (("fifo", "fifo.png", "FIFO"), ("symlink", "link.png", "symbolic link"))
    ],
    ("plot-out-unknown-format", ["plot", "run", "--out", "x.txt"], ".png"),
    ("sample-out-fifo", ["sample", "run", "--out", "fifo.npz"], "fifo.npz"),
    ("sample-grid-fifo", ["sample", "run", "--out", "s.npz", "--grid", "fifo.png"], "FIFO"),
    (
        "sample-grid-under-a-file",
        ["sample", "run", "--out", "s.npz", "--grid", "a-file.txt/g.png"],
        "a-file.txt",
    ),
    ("sample-grid-symlink", ["sample", "run", "--out", "s.npz", "--grid", "link.png"], "symbolic link"),
    ("report-out-fifo", ["report", "run", "--out", "fifo.png"], "FIFO"),
    ("report-out-symlink", ["report", "run", "--out", "link-to-folder"], "symbolic link"),
    ("run-out-fifo", ["run", *RING, "--out", "fifo.png"], "FIFO"),
    # issue 27: one validation for new runs, resumes, sweeps and --nproc
    ("run-threads-huge", ["run", *RING, "--threads", "100000", "--out", "new-run"], "CPU cores"),
    ("run-threads-zero", ["run", *RING, "--threads", "0", "--out", "new-run"], "--threads"),
    ("run-epochs-zero", ["run", "--dataset", "ring8", "--epochs", "0", "--out", "new-run"], "trains nothing"),
    ("run-augment-comma", ["run", *RING, "--augment", ",", "--out", "new-run"], "empty name"),
    *[
        (f"run-resume-{flag}-{value}", ["run", "--resume", "run", f"--{flag}", value], f"--{flag}")
        for flag, value in (
            ("steps", "-5"),
            ("epochs", "-1"),
            ("log-every", "0"),
            ("ckpt-every", "-1"),
            ("threads", "-1"),
            ("eval-every", "-1"),
            ("threads", "0"),
            ("threads", "100000"),
        )
    ],
    ("run-resume-hand-edited", ["run", "--resume", "edited-run", "--steps", "6"], "seed = 99"),
    (
        "run-ema-decay-one",
        ["run", *RING, "--callback", "ema", "--ema-decay", "1", "--out", "new-run"],
        "[0, 1)",
    ),
    *[
        (
            f"run-{flag}-zero",
            ["run", *RING, "--weighting", "topk", f"--{flag}", "0", "--out", "new-run"],
            flag,
        )
        for flag in ("topk-gamma", "topk-min")
    ],
    ("eval-split-unknown", ["eval", "run", "--split", "foo"], "--split"),
    ("sweep-device-missing", ["sweep", "good.toml", "--devices", "cuda:99", "--out", "new-sweep"], "cuda:99"),
    ("sweep-config-unrunnable", ["sweep", "threads-zero.toml", "--out", "new-sweep"], "threads-zero.toml"),
    *[
        (
            f"sweep-cluster-{name}",
            ["sweep", "good.toml", "--cluster", "local", "--cluster-config", f"cluster-{name}.toml"],
            text.split()[0],
        )
        for name, text in CLUSTERS.items()
    ],
    (
        "run-nproc-bad-setting",
        ["run", *RING, "--nproc", "2", "--threads", "100000", "--out", "x"],
        "CPU cores",
    ),
    ("run-nproc-resume-bad", ["run", "--nproc", "2", "--resume", "run"], "trained by 1 process"),
]


def _make_world(root: Path) -> None:
    """A trained toy run and every file the cases point at; made with `gan` itself."""
    from gancore import testing

    code, output = testing.gan("run", *RING, "--batch-size", "32", "--out", root / "run")
    assert code == 0, output
    for name, text in CONFIGS.items():
        (root / f"{name}.toml").write_text(text)
    (root / "a-folder").mkdir()
    (root / "a-file.txt").write_text("not a run, not samples\n")
    (root / "old-report").mkdir()
    (root / "old-report" / "report.md").write_text("# an earlier report, to keep\n")
    code, output = testing.gan("run", *RING, "--batch-size", "32", "--out", root / "edited-run")
    assert code == 0, output
    config = root / "edited-run" / "config.toml"
    config.write_text(config.read_text().replace("seed = 0", "seed = 99"))  # by hand, after training
    for name, text in CLUSTERS.items():
        (root / f"cluster-{name}.toml").write_text(f"[cluster]\n{text}\n")
    os.mkfifo(root / "fifo.png")
    os.mkfifo(root / "fifo.npz")
    os.symlink(root / "a-file.txt", root / "link.png")
    os.symlink(root / "a-folder", root / "link-to-folder")
    np.savez(root / "points.npz", samples=np.zeros((100, 2), np.float32))
    np.savez(root / "strings.npz", samples=np.array(["a", "b"]))
    np.savez(root / "uint16.npz", samples=np.zeros((100, 2), np.uint16))
    np.savez(root / "two.npz", a=np.zeros(3), b=np.zeros(3))
    for name in ("truncated", "garbage"):
        raw = root / name / "MNIST" / "raw"
        raw.mkdir(parents=True)
        write_idx(raw, "train", *blobs(64, 1))
        write_idx(raw, "t10k", *blobs(32, 2))
    images = root / "truncated" / "MNIST" / "raw" / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:1000])
    (root / "garbage" / "MNIST" / "raw" / "train-labels-idx1-ubyte").write_bytes(os.urandom(500))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("world")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the function-scoped one_thread fixture does not reach a module fixture
    try:
        _make_world(root)
    finally:
        torch.set_num_threads(threads)
    yield root


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Every path under ``root`` with its kind, and a file's content hash and modification time
    (a FIFO, a device or a link: its kind, inode and target; reading a FIFO would block)."""
    tree = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        if stat.S_ISDIR(info.st_mode):
            tree[str(path.relative_to(root))] = ("dir", 0)
        elif stat.S_ISREG(info.st_mode):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            tree[str(path.relative_to(root))] = (digest, info.st_mtime_ns)
        else:
            target = os.readlink(path) if path.is_symlink() else ""
            tree[str(path.relative_to(root))] = (f"{stat.S_IFMT(info.st_mode)} {target}", info.st_ino)
    return tree


@pytest.mark.parametrize(("argv", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_changes_nothing(
    world: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], expected: str
) -> None:
    from gancore.cli import app

    monkeypatch.chdir(world)
    monkeypatch.delenv("GANCORE_DATA", raising=False)
    before = snapshot(world)
    result = CliRunner().invoke(app, argv, env={"COLUMNS": "300"}, catch_exceptions=False)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:"), result.stderr
    assert "Traceback" not in result.output
    assert expected in lines[0], lines[0]
    assert snapshot(world) == before


def test_the_table_is_large_and_covers_every_command() -> None:
    commands = {argv[0] for _, argv, _ in CASES}
    assert len(CASES) >= 60
    assert {"run", "sample", "eval", "plot", "sweep", "report", "plugins"} <= commands


@pytest.mark.parametrize(
    ("env", "argv"),
    [
        ({"GANCORE_THREADS": "0"}, ["run", *RING, "--out", "new-run"]),
        ({"GANCORE_THREADS": "100000"}, ["run", *RING, "--out", "new-run"]),
        ({"GANCORE_THREADS": "abc"}, ["sample", "run", "--out", "s.npz"]),
    ],
    ids=["run-zero", "run-huge", "sample-text"],
)
def test_a_bad_thread_count_in_the_environment_is_one_line(
    world: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], argv: list[str]
) -> None:
    from gancore.cli import app

    monkeypatch.chdir(world)
    before = snapshot(world)
    result = CliRunner().invoke(app, argv, env={"COLUMNS": "300", **env}, catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert (
        result.stderr.strip().startswith("error: GANCORE_THREADS=") and len(result.stderr.splitlines()) == 1
    )
    assert snapshot(world) == before


def test_no_writer_replaces_a_device_node(tmp_path: Path) -> None:
    """A character device made like /dev/null (root only: skipped elsewhere) is refused by every
    output check and by the atomic writer itself, and stays a device."""
    from gancore.cli import app
    from gancore.errors import ConfigError
    from gancore.io.atomic import write_atomic

    node = tmp_path / "null.png"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot make a device node here: {exc}")
    with pytest.raises(ConfigError, match="character device"):
        write_atomic(node, "bytes")
    runner = CliRunner()
    run = tmp_path / "run"
    assert runner.invoke(app, ["run", *RING, "--batch-size", "32", "--out", str(run)]).exit_code == 0
    for argv in (["plot", str(run), "--out", str(node)], ["eval", str(run), "--out", str(node)]):
        result = runner.invoke(app, argv, env={"COLUMNS": "300"})
        assert result.exit_code == 2 and "character device" in result.stderr, result.output
    assert stat.S_ISCHR(node.lstat().st_mode)


def test_the_atomic_writer_never_renames_over_a_fifo_or_a_link(tmp_path: Path) -> None:
    from gancore.errors import ConfigError
    from gancore.io.atomic import write_atomic

    fifo, target, link = tmp_path / "pipe", tmp_path / "target.txt", tmp_path / "link.txt"
    os.mkfifo(fifo)
    target.write_text("kept\n")
    link.symlink_to(target)
    for path, kind in ((fifo, "FIFO"), (link, "symbolic link"), (tmp_path, "folder")):
        with pytest.raises(ConfigError, match=kind):
            write_atomic(path, "new")
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and link.is_symlink() and target.read_text() == "kept\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.txt", "pipe", "target.txt"]  # no temporary


def test_a_samples_folder_appears_only_complete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kill midway through `gan sample --out pngs/` (here: the 5th PNG fails) leaves no folder named
    pngs: the PNGs go into a hidden temporary folder, renamed when all are written."""
    import torch

    from gancore.records import DataSpec
    from gancore.tools import sampling

    spec = DataSpec(kind="image", shape=(1, 28, 28))
    samples = sampling.Samples(torch.zeros(10, 1, 28, 28), spec, "plain")
    written = []

    def failing_save(picture: torch.Tensor, path: Path, *, fsync: bool = True) -> None:
        if len(written) == 4:
            raise KeyboardInterrupt  # as a kill would stop it
        written.append(path)
        path.write_bytes(b"png")

    monkeypatch.setattr(sampling, "save_png", failing_save)
    with pytest.raises(KeyboardInterrupt):
        sampling.write_samples(samples, tmp_path / "pngs")
    assert list(tmp_path.iterdir()) == [] and len(written) == 4
    monkeypatch.undo()
    sampling.write_samples(samples, tmp_path / "pngs")
    assert sorted(p.name for p in (tmp_path / "pngs").iterdir())[:2] == ["000000.png", "000001.png"]
    assert len(list((tmp_path / "pngs").iterdir())) == 11 and [p.name for p in tmp_path.iterdir()] == ["pngs"]


def test_a_killed_samples_folder_is_cleared_when_written_again(tmp_path: Path) -> None:
    """A SIGKILL leaves the hidden partial folder behind (nothing runs to remove it): the next write
    of the same folder removes a dead process's partial, and keeps a live one's (pid 1)."""
    import subprocess
    import sys

    import torch

    from gancore.records import DataSpec
    from gancore.tools import sampling

    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    dead = ended.pid
    ended.wait()  # reaped: no process has this pid now
    killed = tmp_path / f".pngs.tmp-{dead}-0123abcd"
    alive = tmp_path / ".pngs.tmp-1-89abcdef"
    other = tmp_path / f".other.tmp-{dead}-0123abcd"
    for folder in (killed, alive, other):
        folder.mkdir()
        (folder / "000000.png").write_bytes(b"png")
    samples = sampling.Samples(torch.zeros(3, 1, 28, 28), DataSpec(kind="image", shape=(1, 28, 28)), "plain")
    sampling.write_samples(samples, tmp_path / "pngs")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, other.name, "pngs"])
    assert len(list((tmp_path / "pngs").iterdir())) == 4
