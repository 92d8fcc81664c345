"""Runs watched in TensorBoard: every metrics row as scalars, every sample grid as an image.

The engine tells callbacks what it wrote (``on_metrics``, ``on_grid``) with values it has already
read from the device, so this logger adds no host read to the step; TensorBoard's own writer
(``torch.utils.tensorboard.SummaryWriter``) writes the event files from a background thread.

    gan run --callback tensorboard            events in <run>/tensorboard/
    tensorboard --logdir runs                 every run below runs/, a sweep's included
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
from torch import Tensor

from gancore import Callback, ConfigError, GANModel, RunProgress, option

#: metrics.jsonl keys that are the row's position, not a value to plot
POSITION = ("step",)
GRID_TAG = "samples"


@attrs.define
class TensorBoard(Callback):
    """Writes every metrics row (scalars), the per-epoch sample grids (images) and the evaluations
    to TensorBoard event files."""

    name = "tensorboard"
    tb_dir: str = option("", help="folder of the TensorBoard event files (empty: <run>/tensorboard)")
    writer: Any = attrs.field(default=None, init=False)

    def check(self, model: GANModel) -> None:
        # before the run folder exists: a missing package is one line, not a crash at the first step
        try:
            import tensorboard  # noqa: F401
        except ImportError:
            raise ConfigError(
                "--callback tensorboard needs the tensorboard package: pip install tensorboard"
            ) from None

    def folder(self, run: RunProgress) -> Path:
        return Path(self.tb_dir) if self.tb_dir else run.folder / "tensorboard"

    def on_start(self, run: RunProgress) -> None:
        if not run.writer:  # under torchrun only rank 0 writes (and only it is handed rows and grids)
            return
        from torch.utils.tensorboard import SummaryWriter  # imported here: `gan plugins` stays fast

        # a resumed run rewrites the rows after its checkpoint (the engine drops them from
        # metrics.jsonl): purge_step makes TensorBoard drop the events it had for those steps too
        purge = run.step + 1 if run.step > 0 else None
        self.writer = SummaryWriter(str(self.folder(run)), purge_step=purge, flush_secs=10)

    def on_metrics(self, run: RunProgress, row: dict[str, float]) -> None:
        for key, value in row.items():
            # a metric undefined at this point is null in metrics.jsonl: no point to plot
            if key not in POSITION and value is not None:
                self.writer.add_scalar(key, value, global_step=run.step)

    def on_grid(self, run: RunProgress, picture: Tensor) -> None:
        self.writer.add_image(GRID_TAG, picture, global_step=run.step, dataformats="CHW")
        self.writer.flush()  # once per epoch: a watcher sees the epoch as soon as its grid is saved

    def on_run_end(self, run: RunProgress) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
