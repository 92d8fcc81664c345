"""The one schema of run settings: types and ranges checked, names read as names, threads recorded."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import torch

from gancore.config import make_config, resolve
from gancore.errors import ConfigError
from gancore.plugins import get_registry
from gancore.train import threads
from tests.conftest import gan

RING = ["--dataset", "ring8", "--device", "cpu", "--steps", "2", "--batch-size", "32"]


def test_one_name_is_a_list_of_one_not_of_letters() -> None:
    assert make_config(regs="gp").regs == ("gp",)
    settings = resolve(get_registry(), {"dataset": "ring8", "regs": "gp"}, {})
    assert settings.regs == ("gp",)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("steps", 20.5, "--steps must be a whole number >= 0, got 20.5"),
        ("compile", "no", "--compile must be true or false, got 'no'"),
        ("latent_dim", True, "--latent-dim must be a positive whole number, got True"),
        ("lr_g", float("inf"), "--lr-g must be a finite number (positive), got inf"),
        ("seed", 2**32, "--seed must be a whole number in [0, 4294967295], got 4294967296"),
        ("regs", [1, 2], "regs (--reg) must be a list of names, got (1, 2)"),
        ("regs", ["gp", "gp"], "--reg gp is given twice; name each component once"),
        ("augment", ["x", "x"], "--augment x is given twice"),
        ("options", 5, "options must be a table of component options"),
    ],
)
def test_each_key_names_itself_its_value_and_what_is_allowed(key, value, message) -> None:
    with pytest.raises(ConfigError, match="^" + re.escape(message)):
        make_config(**{key: value})


def test_the_largest_seed_trains(tmp_path: Path) -> None:
    result = gan("run", *RING, "--seed", str(2**32 - 1), "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output


def _recorded_threads(run: Path) -> int:
    return tomllib.loads((run / "config.toml").read_text())["threads"]


def test_threads_default_env_and_flag_are_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GANCORE_THREADS", raising=False)
    torch.set_num_threads(2)  # torch's count (one per core) is the default; one_thread restores it
    assert gan("run", *RING, "--out", tmp_path / "a").exit_code == 0
    assert _recorded_threads(tmp_path / "a") == 2 and torch.get_num_threads() == 2
    monkeypatch.setenv("GANCORE_THREADS", "1")
    assert gan("run", *RING, "--out", tmp_path / "b").exit_code == 0
    assert _recorded_threads(tmp_path / "b") == 1 and torch.get_num_threads() == 1
    cores = threads.available()
    assert gan("run", *RING, "--threads", str(cores), "--out", tmp_path / "c").exit_code == 0
    assert _recorded_threads(tmp_path / "c") == cores and torch.get_num_threads() == cores
    result = gan("run", *RING, "--threads", str(cores + 1), "--out", tmp_path / "e")
    assert result.exit_code == 2 and f"has {cores} CPU cores" in result.output  # OpenMP crashed on 100000
    assert not (tmp_path / "e").exists()
    monkeypatch.setenv("GANCORE_THREADS", "many")
    result = gan("run", *RING, "--out", tmp_path / "d")
    assert result.exit_code == 2 and "GANCORE_THREADS='many'" in result.output
    assert not (tmp_path / "d").exists()
