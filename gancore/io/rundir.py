"""A run's folder: config.toml, metrics.jsonl, samples/, checkpoints/. Every path lives here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs

from gancore.errors import ConfigError, warn
from gancore.io.atomic import write_atomic
from gancore.io.outputs import check_folder


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

    def is_skeleton(self) -> bool:
        """Only what ``create`` makes, and the lock: a run killed while it started, before config.toml.

        Nothing in it is worth keeping, so a new run may take the folder over.
        """
        if not self.path.is_dir():
            return False
        for child in self.path.iterdir():
            if child.name == ".lock" and child.is_file():
                continue
            if child in (self.samples, self.checkpoints) and child.is_dir() and not any(child.iterdir()):
                continue
            return False
        return True

    def taken(self) -> bool:
        """``path`` holds something a new run must not touch (a file, or a folder with contents)."""
        return self.path.exists() and not (self.path.is_dir() and self.is_skeleton())

    def create(self) -> None:
        """Make a new run folder; an existing, non-empty one is never touched."""
        check_folder(self.path, "--out ")  # a file, a device, a link in the way: refused
        if self.taken():
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
            if self.is_skeleton():
                raise ConfigError(
                    f"{self.path} holds no run yet (it was stopped while starting);"
                    f" start it again with gan run ... --out {self.path}"
                )
            raise ConfigError(f"{self.path} is not a gancore run (no config.toml in it)")
        return self

    def append_metrics(self, row: dict[str, Any]) -> None:
        """One row at the end of metrics.jsonl: an append, so a crash loses at most the last line."""
        with self.metrics.open("a") as fh:
            fh.write(json.dumps(row) + "\n")

    def _metric_lines(self) -> tuple[list[tuple[str, dict[str, Any]]], str | None]:
        """(each whole row with its text, the torn last line or None).

        A kill in the middle of an append leaves the last line incomplete: it is set aside, not an
        error. A bad line anywhere else is damage no kill makes, and is reported.
        """
        if not self.metrics.is_file():
            return [], None
        lines = self.metrics.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
        rows: list[tuple[str, dict[str, Any]]] = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                if number == len(lines):
                    return rows, line
                raise ConfigError(
                    f"{self.metrics} line {number} is not JSON; remove that line and try again"
                ) from None
            if not line.endswith("\n"):  # whole JSON but no newline: the append stopped just short
                return rows, line
            rows.append((line, row))
        return rows, None

    def read_metrics(self, warn_torn: bool = True) -> list[dict[str, Any]]:
        """metrics.jsonl's rows; a torn last line (a kill mid-write) is skipped with one warning."""
        rows, torn = self._metric_lines()
        if torn is not None and warn_torn:
            warn(
                f"{self.metrics}: skipped its last line, cut short by an interruption ({torn.strip()[:40]!r})"
            )
        return [row for _, row in rows]

    def truncate_metrics(self, step: int) -> None:
        """Drop rows logged after ``step`` (written after the checkpoint a resume starts from) and a
        torn last line; the rows kept are kept byte for byte, so the resumed run's file is the one an
        uninterrupted run writes."""
        if self.metrics.is_file():
            rows, _ = self._metric_lines()
            write_atomic(self.metrics, "".join(text for text, row in rows if row.get("step", 0) <= step))
