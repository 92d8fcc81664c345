"""Does a change of the engine keep training the same to the bit? Seeded short runs, made before and
after the change, compared row by row and tensor by tensor (issue 26: a refactor must not move a bit).

    git stash; python benchmarks/same_bits.py make /tmp/before; git stash pop
    python benchmarks/same_bits.py make /tmp/after
    python benchmarks/same_bits.py compare /tmp/before /tmp/after   # exit 1 if anything differs

The runs: vanilla, wgan-gp with the conv critic, hinge + R1 + EMA, vanilla with top-k and EMA (real
MNIST, 2,000 images, 30 steps, a checkpoint every 15), and the sigmoid LSGAN with a Lipschitz
monitor on ring8. Compared: every metrics.jsonl row but its wall-clock keys, every checkpoint's
tensors and metadata (checksums included). Needs the MNIST files ($GANCORE_DATA or ../shared/data).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

MNIST = ["--dataset", "mnist", "--subset", "2000", "--steps", "30", "--log-every", "5", "--ckpt-every", "15"]
RUNS = {
    "vanilla": [*MNIST, "--loss", "vanilla"],
    "wgan-conv": [*MNIST, "--loss", "wgan-gp", "--critic", "conv"],
    "hinge-r1-ema": [*MNIST, "--loss", "hinge", "--reg", "r1", "--callback", "ema"],
    "vanilla-topk": [*MNIST, "--loss", "vanilla", "--weighting", "topk", "--callback", "ema"],
    "ring8-lsgan": ["--dataset", "ring8", "--steps", "60", "--log-every", "5", "--loss", "lsgan",
                    "--ls-sigmoid", "--monitor", "spectral-product"],
}  # fmt: skip
CLOCK = ("time", "it_s")  # wall-clock keys of a metrics row: they differ between any two runs


def make(out: Path) -> None:
    env = {**os.environ, "GANCORE_DATA": os.environ.get("GANCORE_DATA", "../shared/data")}
    for name, args in RUNS.items():
        argv = ["gan", "run", *args, "--threads", "1", "--seed", "3", "--out", str(out / name)]
        subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL)
        print(f"made {out / name}")


def compare(a: Path, b: Path) -> bool:
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file

    def rows(run: Path) -> list[dict]:
        lines = (run / "metrics.jsonl").read_text().splitlines()
        return [{k: v for k, v in json.loads(line).items() if k not in CLOCK} for line in lines]

    same = True
    for name in RUNS:
        differ = [] if rows(a / name) == rows(b / name) else ["metrics rows"]
        files = sorted((a / name / "checkpoints").glob("*.safetensors"))
        for file in files:
            other = b / name / "checkpoints" / file.name
            ta, tb = load_file(file), load_file(other)
            differ += [f"{file.name}: {k}" for k in sorted(ta.keys() | tb.keys())
                       if k not in ta or k not in tb or not torch.equal(ta[k], tb[k])]  # fmt: skip
            if safe_open(str(file), "pt").metadata() != safe_open(str(other), "pt").metadata():
                differ.append(f"{file.name}: metadata")
        print(
            f"{name}: {len(files)} checkpoints, "
            + ("the same to the bit" if not differ else f"DIFFER: {differ[:5]}")
        )
        same = same and not differ
    return same


if __name__ == "__main__":
    command, *paths = sys.argv[1:]
    if command == "make":
        make(Path(paths[0]))
    else:
        sys.exit(0 if compare(Path(paths[0]), Path(paths[1])) else 1)
