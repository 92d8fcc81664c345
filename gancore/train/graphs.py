"""``--cuda-graphs``: the whole iteration recorded once per epoch as a CUDA graph, then replayed.

At batch 64 a step is a few GFLOP, microseconds of GPU work, but 150 to 900 kernel launches, each
costing microseconds of host time: eager PyTorch is launch-bound. A CUDA graph replays all of them
with one launch. What a graph needs, and where it comes from here:

- fixed addresses: the step's inputs are copied into static buffers (the real batches, still
  uint8, and for a conditional model their labels), and the step decodes them inside the graph;
  latent codes, fake labels and augmentations are drawn inside it from PyTorch's graph-safe CUDA
  generator, so every replay draws new ones;
- no host reads: the engine's step reads nothing back, and its statistics are added in place into
  buffers that live outside the graph (``Stats``); losses come back as the graph's outputs;
- optimizers that keep their step count on the device (``capturable``);
- Python values fixed per recording: learning rates and scheduled options change only at epoch
  boundaries, so the graph is recorded again at the start of each epoch.

A component that reads a value back to the host inside the step cannot be recorded; that is
reported as one line naming the flag to drop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from gancore.errors import ConfigError

if TYPE_CHECKING:
    from gancore.train.stats import Stats

#: eager iterations on a side stream before the first recording: cuBLAS/cuDNN and the optimizers'
#: state are set up outside the graph, as PyTorch's CUDA-graph notes require
WARMUP_ITERATIONS = 3

#: the critic's and the generator's (loss, gradient norm), the last real batch, the last fake batch
Outputs = tuple[Tensor, Tensor, Tensor, Tensor]
Body = Callable[[Tensor, "Tensor | None", int, int, "Stats"], Outputs]


def check_device(device: torch.device) -> None:
    if device.type != "cuda":
        raise ConfigError(
            f"--cuda-graphs needs a CUDA device, but this run is on {device.type}; drop --cuda-graphs"
        )


class GraphedIteration:
    """Calls ``body(stored, labels, step, epoch, stats)`` like the eager loop, replaying a recording of it.

    ``stats`` must be the one ``Stats`` of the run: the warm-up creates its buffers, and every replay
    adds into them.
    """

    def __init__(self, body: Body, warmup: int = WARMUP_ITERATIONS) -> None:
        self.body = body
        self.warmup_left = warmup
        self.graph: torch.cuda.CUDAGraph | None = None
        self.epoch: int | None = None
        self.static_input: Tensor | None = None
        self.static_labels: Tensor | None = None
        self.outputs: Outputs | None = None
        self.counts_per_replay: dict[str, int] = {}

    def __call__(self, stored: Tensor, labels: Tensor | None, step: int, epoch: int, stats: Stats) -> Outputs:
        if self.warmup_left > 0:
            self.warmup_left -= 1
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                out = self.body(stored, labels, step, epoch, stats)
            torch.cuda.current_stream().wait_stream(side)
            return out
        if self.graph is None or epoch != self.epoch:
            self.record(stored, labels, step, epoch, stats)
        self.static_input.copy_(stored)
        if labels is not None:
            self.static_labels.copy_(labels)
        self.graph.replay()
        for key, n in self.counts_per_replay.items():
            stats.counts[key] = stats.counts.get(key, 0) + n
        d_total, g_total, real, fake = self.outputs
        # losses and norms are kept per step for the non-finite check: copies, a replay overwrites them
        return d_total.clone(), g_total.clone(), real, fake

    def record(self, stored: Tensor, labels: Tensor | None, step: int, epoch: int, stats: Stats) -> None:
        """Record one iteration; recording runs no kernel, so no training step is spent on it."""
        self.graph = self.outputs = None  # release the last epoch's recording first
        self.static_input = stored.clone()
        self.static_labels = None if labels is None else labels.clone()
        counts = dict(stats.counts)
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                outputs = self.body(self.static_input, self.static_labels, step, epoch, stats)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(
                f"--cuda-graphs: the step could not be recorded ({first}); a component probably reads"
                " a value back to the host inside the step. Run without --cuda-graphs"
            ) from exc
        # the recording added to the Python counts once but ran nothing: each replay adds them instead
        self.counts_per_replay = {k: n - counts.get(k, 0) for k, n in stats.counts.items()}
        stats.counts.clear()
        stats.counts.update(counts)
        self.graph, self.outputs, self.epoch = graph, outputs, epoch
