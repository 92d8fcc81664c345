"""How a run is assembled, from ``runs.start`` to its first critic step: what ``start`` calls, in
order, and how often the things a run resolves once (its device, threads, dataset, data, length)
are resolved on the way (issue 26). Run it against any checkout of the engine to compare two:

    python benchmarks/assembly_path.py                       # this checkout
    PYTHONPATH=/path/to/old/checkout python benchmarks/assembly_path.py

The run: the ring8 dataset (no files), one step, one thread, in a temporary folder.
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from pathlib import Path

#: function (not method) name -> what it resolves
RESOLUTIONS = {
    "resolve_device": "the device",
    "choose": "the thread count",
    "steps_per_epoch": "the run's length (steps per epoch)",
}


def trace() -> tuple[list[str], Counter[str]]:
    """(gancore's functions ``start`` calls itself, in order; how often each thing was resolved)."""
    import gancore
    from gancore.components import Dataset
    from gancore.config import make_config
    from gancore.train import runs

    root = str(Path(gancore.__file__).parent)
    calls: list[str] = []
    counts: Counter[str] = Counter()
    stepped = False

    def profile(frame, event, arg):
        nonlocal stepped
        code = frame.f_code
        if stepped or event != "call" or not code.co_filename.startswith(root):
            return
        if code.co_name == "critic_step":
            stepped = True
            return
        if code.co_qualname in RESOLUTIONS:
            counts[RESOLUTIONS[code.co_qualname]] += 1
        if code.co_name == "instantiate" and frame.f_locals.get("kind") == "dataset":
            counts["the dataset component (built)"] += 1
        if code.co_name == "load" and isinstance(frame.f_locals.get("self"), Dataset):
            counts["the data (loaded)"] += 1
        caller = frame.f_back.f_code if frame.f_back else None
        if caller is not None and caller is runs.start.__code__:
            module = str(Path(code.co_filename).relative_to(root)).removesuffix(".py").replace("/", ".")
            calls.append(f"{module}.{code.co_qualname}")

    config = make_config(dataset="ring8", steps=1, threads=1, log_every=1)
    with tempfile.TemporaryDirectory() as tmp:
        sys.setprofile(profile)
        try:
            runs.start(config, Path(tmp) / "run")
        finally:
            sys.setprofile(None)
    return calls, counts


def main() -> None:
    calls, counts = trace()
    print(f"runs.start calls {len(calls)} of gancore's functions itself:")
    for name in calls:
        print(f"  {name}")
    print("resolved on the way to the first step:")
    for what, n in sorted(counts.items()):
        print(f"  {n:3d}  {what}")


if __name__ == "__main__":
    main()
