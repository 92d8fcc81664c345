"""`gan run` on ring8 with random flags and values (Hypothesis): each command either trains or is
refused in one `error:` line with exit code 2, never a traceback or a signal, and a refusal leaves
no folder behind.

Each flag draws from values that are valid, at a boundary or wrong in kind (zero, negative, huge,
NaN, text, empty names), so that combinations no hand-written case tries are met: a valid length
with a bad evaluation setting, a penalty with a loss it does not fit, and so on. The examples are
derandomized (the same every run, so CI cannot flake) and bounded to keep the test under a minute.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

#: flag -> values to draw from; the valid ones keep a run to a few steps of the toy
VALUES: dict[str, list[str]] = {
    "--steps": ["1", "2", "0", "-1", "abc", "1.5"],
    "--epochs": ["0", "1", "-2"],
    "--batch-size": ["16", "32", "0", "-3", "100000", "x"],
    "--lr-g": ["1e-3", "0", "-1", "nan", "inf", "abc"],
    "--lr-d": ["2e-4", "0", "nan"],
    "--beta1": ["0.5", "0", "1", "-0.1", "nan"],
    "--n-critic": ["1", "2", "0", "-1"],
    "--seed": ["7", "0", "-1", "4294967296"],
    "--threads": ["1", "0", "-1", "100000"],
    "--log-every": ["1", "0", "-1"],
    "--ckpt-every": ["1", "0", "-1"],
    "--eval-every": ["1", "0", "-1"],
    "--eval-samples": ["200", "0", "-5"],
    "--latent-dim": ["2", "0", "-1"],
    "--loss": ["vanilla", "hinge", "wgan", "no-such-loss", ""],
    "--critic": ["mlp", "conv", "no-such"],
    "--augment": ["", ",", "cutout", "no-such"],
    "--optimizer": ["adam", "sgd", "rmsprop", "adamw"],
    "--precision": ["fp32", "bf16", "fp8"],
    "--device": ["cpu", "tpu", "cuda:9"],
    "--dropout": ["0.3", "-1", "nan", "2"],
    "--clip-grad": ["1", "0", "-1", "nan"],
    "--reg": ["r1", "gp", "no-such"],
    "--callback": ["ema", "no-such"],
    "--schedule": ["dropout=+0.1/1ep", "garbage", "no_such=+1/1ep"],
    "--sampler": ["plain", "no-such"],
}


@st.composite
def flags(draw: st.DrawFn) -> list[str]:
    chosen = draw(st.lists(st.sampled_from(sorted(VALUES)), min_size=1, max_size=6, unique=True))
    argv = []
    for flag in chosen:
        argv += [flag, draw(st.sampled_from(VALUES[flag]))]
    return argv


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(extra=flags())
def test_random_flags_either_train_or_are_refused_in_one_line(extra: list[str]) -> None:
    from gancore.cli import app

    with tempfile.TemporaryDirectory() as root:
        out = Path(root) / "runs" / "fuzz"
        # --steps 2 first: a drawn --steps or --epochs comes later and wins
        argv = ["run", "--dataset", "ring8", "--device", "cpu", "--steps", "2", *extra, "--out", str(out)]
        result = CliRunner().invoke(app, argv, env={"COLUMNS": "300"}, catch_exceptions=False)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert "Traceback" not in result.output, argv
        assert result.exit_code in (0, 2), (argv, result.output)
        if result.exit_code == 2:
            assert len(lines) == 1 and lines[0].startswith("error:"), (argv, result.stderr)
            assert not (Path(root) / "runs").exists(), (argv, "a refused run left a folder")
        else:
            assert (out / "config.toml").is_file() and (out / "checkpoints" / "last.safetensors").is_file()
