"""Where a training step's time goes: torch.profiler over the step the benchmarks time.

    python benchmarks/profile_step.py vanilla mlp 64 --cuda-graphs

Prints the steps per second of a timed stretch (no profiler attached), then the profiler's
operators sorted by their own host time and by device time, and the kernel launches per step.
Needs the real MNIST (../shared/data or $GANCORE_DATA), like the benchmarks.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from benchmarks.test_step_throughput import PIPELINES, settings, step_runner
from gancore.testing import find_mnist


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pipeline", choices=list(PIPELINES))
    parser.add_argument("critic", choices=["mlp", "conv"])
    parser.add_argument("batch", type=int)
    parser.add_argument("--cuda-graphs", action="store_true")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=200, help="steps timed, then profiled")
    args = parser.parse_args()

    root = find_mnist(Path(__file__).resolve().parents[2] / "shared" / "data")
    if root is None:  # one line and exit 2, like gancore's own bad inputs
        parser.exit(2, "error: the real MNIST is not in ../shared/data or $GANCORE_DATA; set GANCORE_DATA\n")
    speed = {"cuda_graphs": args.cuda_graphs, "compile": args.compile}
    with tempfile.TemporaryDirectory() as tmp:
        config = settings(args.pipeline, args.critic, args.batch, args.device, root, **speed)
        steps = step_runner(config, Path(tmp) / "run")
        steps(20)  # warm-up: recording, compiling, cuBLAS handles
        began = time.perf_counter()
        steps(args.steps)
        rate = args.steps / (time.perf_counter() - began)
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if args.device == "cuda" else [])
        with profile(activities=activities) as prof:
            steps(args.steps)
    label = f"{args.pipeline} {args.critic} batch {args.batch} {args.device}"
    label += "".join(f" --{k.replace('_', '-')}" for k, v in speed.items() if v)
    print(f"== {label}: {rate:.1f} generator steps/s (n_critic {config.n_critic})")
    events = prof.key_averages()
    print(events.table(sort_by="self_cpu_time_total", row_limit=12, max_name_column_width=48))
    if args.device == "cuda":
        print(events.table(sort_by="self_device_time_total", row_limit=12, max_name_column_width=48))
        launches = sum(e.count for e in events if e.key in ("cudaLaunchKernel", "cuLaunchKernel"))
        graph_launches = sum(e.count for e in events if e.key == "cudaGraphLaunch")
        print(f"kernel launches per step: {launches / args.steps:.1f}; graph launches per step:"
              f" {graph_launches / args.steps:.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
