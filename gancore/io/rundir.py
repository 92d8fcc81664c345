"""A run's folder: config.toml, metrics.jsonl, samples/, checkpoints/. Every path lives here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs

from gancore.errors import ConfigError
from gancore.io.atomic import write_atomic


def default_run_path(loss: str) -> Path:
    """``runs/<loss>-<timestamp>``, the folder of a run started without ``--out``."""
    from datetime import datetime

    return Path("runs") / f"{loss}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


@attrs.frozen
class RunDir:
    path: Path

    @property
    def config(self) -> Path:
        return self.path / "config.toml"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def samples(self) -> Path:
        return self.path / "samples"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def last(self) -> Path:
        return self.checkpoints / "last.safetensors"

    def step_checkpoint(self, step: int) -> Path:
        return self.checkpoints / f"step-{step:09d}.safetensors"

    def sampler_state(self, sampler: str) -> Path:
        """What sampler ``sampler``'s ``prepare`` learned, kept for later ``gan sample``/``gan eval``."""
        return self.path / "samplers" / f"{sampler}.safetensors"

    def grid(self, epoch: int) -> Path:
        return self.samples / f"epoch-{epoch:04d}.png"

    def create(self) -> None:
        """Make a new run folder; an existing, non-empty one is never touched."""
        if self.path.exists() and not self.path.is_dir():
            raise ConfigError(f"--out {self.path} is a file, not a folder; choose another --out")
        if self.path.exists() and (not self.path.is_dir() or any(self.path.iterdir())):
            raise ConfigError(
                f"{self.path} already exists; continue it with --resume {self.path} or choose another --out"
            )
        self.samples.mkdir(parents=True, exist_ok=True)
        self.checkpoints.mkdir(parents=True, exist_ok=True)

    def require(self) -> RunDir:
        """This must be an existing run (for --resume, sample, eval)."""
        if not self.path.is_dir():
            raise ConfigError(f"run folder {self.path} does not exist")
        if not self.config.is_file():
            raise ConfigError(f"{self.path} is not a gancore run (no config.toml in it)")
        return self

    def append_metrics(self, row: dict[str, Any]) -> None:
        """One row at the end of metrics.jsonl: an append, so a crash loses at most the last line."""
        with self.metrics.open("a") as fh:
            fh.write(json.dumps(row) + "\n")

    def read_metrics(self) -> list[dict[str, Any]]:
        if not self.metrics.is_file():
            return []
        return [json.loads(line) for line in self.metrics.read_text().splitlines() if line.strip()]

    def truncate_metrics(self, step: int) -> None:
        """Drop rows logged after ``step`` (written after the checkpoint a resume starts from)."""
        if self.metrics.is_file():
            keep = [r for r in self.read_metrics() if r.get("step", 0) <= step]
            write_atomic(self.metrics, "".join(json.dumps(r) + "\n" for r in keep))
