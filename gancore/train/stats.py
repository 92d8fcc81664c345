"""Running sums of the step's scalars, kept on the device and read back all at once."""

from __future__ import annotations

import torch
from torch import Tensor


class Stats:
    """Running sums of scalar tensors, kept on the device and read all at once.

    The sums are added to in place and zeroed in place when read, so the same buffers serve a whole
    run: a step recorded as a CUDA graph (``--cuda-graphs``) keeps adding into them on every replay.
    """

    def __init__(self) -> None:
        self.sums: dict[str, Tensor] = {}
        self.counts: dict[str, int] = {}

    def add(self, values: dict[str, Tensor]) -> None:
        for key, value in values.items():
            value = value.detach().float()
            if key in self.sums:
                self.sums[key].add_(value)
            else:
                self.sums[key] = value.clone()  # a buffer of its own, never a view of a loss
            self.counts[key] = self.counts.get(key, 0) + 1

    def read(self) -> dict[str, float]:
        """The mean of every key added since the last read; the sums start again from zero."""
        keys = [k for k, n in self.counts.items() if n > 0]
        if not keys:
            return {}
        values = torch.stack([self.sums[k] for k in keys]).tolist()  # the one host sync
        means = {k: v / self.counts[k] for k, v in zip(keys, values, strict=True)}
        torch._foreach_zero_(list(self.sums.values()))
        self.counts = dict.fromkeys(self.counts, 0)
        return means

    def state(self) -> tuple[dict[str, Tensor], dict[str, int]]:
        """The sums and counts not read yet, for a checkpoint taken between two reads."""
        return {k: v.detach().clone() for k, v in self.sums.items()}, dict(self.counts)

    def load(self, sums: dict[str, Tensor], counts: dict[str, int], device: torch.device) -> None:
        """Continue from ``state()``'s values (in their order, which is the order ``read`` reports)."""
        self.sums = {k: sums[k].to(device).clone() for k in counts}
        self.counts = dict(counts)
