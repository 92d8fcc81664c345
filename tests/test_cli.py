"""The CLI's surface: help, listing, the progress reporter."""

from __future__ import annotations

from gancore.cli.run import RichReporter
from tests.conftest import gan


def test_help_lists_the_commands():
    result = gan("--help")
    assert result.exit_code == 0
    for command in ("run", "sample", "plugins"):
        assert command in result.output


def test_run_help_names_the_contract_flags():
    result = gan("run", "--help")
    for flag in (
        "--loss",
        "--critic",
        "--generator",
        "--reg",
        "--sampler",
        "--prior",
        "--dataset",
        "--data-dir",
        "--epochs",
        "--steps",
        "--batch-size",
        "--lr-g",
        "--lr-d",
        "--n-critic",
        "--seed",
        "--device",
        "--out",
        "--config",
        "--resume",
    ):
        assert flag in result.output, flag


def test_plugins_lists_the_builtin_names():
    result = gan("plugins")
    builtin = next(line for line in result.output.splitlines() if line.startswith("builtin"))
    for name in (
        "loss:vanilla",
        "generator:mlp",
        "critic:conv",
        "prior:normal",
        "sampler:plain",
        "dataset:ring8",
        "dataset:grid25",
        "dataset:mnist",
        "dataset:fashion-mnist",
    ):
        assert name in builtin


def test_reporter_shows_epoch_speed_and_losses():
    from rich.console import Console

    console = Console(record=True, width=200, force_terminal=False)
    reporter = RichReporter(console)
    reporter.start(total=100, done=0, steps_per_epoch=40)
    reporter.advance(50)
    reporter.log({"it_s": 123.4, "d_loss": 1.25, "g_loss": 0.5})
    reporter.stop()
    text = console.export_text()
    assert "epoch 2/3" in text and "123 it/s" in text and "d_loss 1.250" in text and "50/100" in text
