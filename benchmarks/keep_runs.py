"""Copy what a results page needs from run folders into docs/: each run's config.toml, eval.json and
thinned metrics (every evaluation row and one training row in ``--every``), since ``runs/`` is not
committed.

    python benchmarks/keep_runs.py runs/screen/lsgan-sig docs/results-repro/lsgan-sig [--every 10]

A sweep's layout (``<exp>/seed-<s>/``) is kept as it is; a plain run folder is copied to DEST itself.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path


def thinned(metrics: Path, every: int) -> str:
    rows = [line for line in metrics.read_text().splitlines() if line.strip()]
    kept = [r for i, r in enumerate(rows) if i % every == 0 or i == len(rows) - 1 or '"eval/' in r]
    for row in kept:
        json.loads(row)  # only whole rows: a row cut by a kill is left out
    return "\n".join(kept) + "\n"


def keep(run: Path, dest: Path, every: int) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("config.toml", "eval.json"):
        if (run / name).is_file():
            shutil.copyfile(run / name, dest / name)
    if (run / "metrics.jsonl").is_file():
        (dest / "metrics.jsonl").write_text(thinned(run / "metrics.jsonl", every))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--every", type=int, default=10, help="keep one training row in N")
    args = parser.parse_args()
    runs = sorted(p.parent for p in args.source.rglob("config.toml") if "checkpoints" not in p.parts)
    for run in runs:
        keep(run, args.dest / run.relative_to(args.source), args.every)
        print(f"kept {run} -> {args.dest / run.relative_to(args.source)}")


if __name__ == "__main__":
    main()
