"""The TensorBoard callback on tiny ring8 runs, read back with TensorBoard's own EventAccumulator:
its scalars are metrics.jsonl's rows, its images the saved grids, and a resumed run's events are the
resumed metrics.jsonl's, not a dead run's rows after the checkpoint."""

from __future__ import annotations

import json
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from gancore.testing import gan, train

pytestmark = pytest.mark.usefixtures("one_thread", "tensorboard_plugin")

# ring8 has 20,000 points: batches of 1000 make 20 steps an epoch
BATCH, PER_EPOCH = 1000, 20


def events(folder: Path) -> EventAccumulator:
    return EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0}).Reload()


def scalars(acc: EventAccumulator) -> dict[tuple[str, int], list[float]]:
    """(tag, step) -> every value logged there (a purged step keeps only the rewritten one)."""
    found: dict[tuple[str, int], list[float]] = {}
    for tag in acc.Tags()["scalars"]:
        for event in acc.Scalars(tag):
            found.setdefault((tag, event.step), []).append(event.value)
    return found


def expected(rows: list[dict]) -> dict[tuple[str, int], list[float]]:
    """What the rows say, as TensorBoard stores it (float32); ``step`` is the position, not a value,
    and a null (a metric undefined there, like the mode KL with no mode covered) has no point."""
    want: dict[tuple[str, int], list[float]] = {}
    for row in rows:
        for key, value in row.items():
            if key != "step" and value is not None:
                want.setdefault((key, row["step"]), []).append(float(np.float32(value)))
    return want


def read_rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_every_metrics_row_grid_and_evaluation_reaches_tensorboard(tmp_path):
    run = tmp_path / "run"
    rows = train(run, "--callback", "tensorboard", "--epochs", "2", "--eval-every", "1",
                 "--eval-samples", "500", batch_size=BATCH, log_every=10)  # fmt: skip
    acc = events(run / "tensorboard")
    # 4 training rows (steps 10..40) and 2 evaluation rows (modes covered at steps 20 and 40)
    assert [r["step"] for r in rows] == [10, 20, 20, 30, 40, 40]
    assert any(key.startswith("eval/") for key in acc.Tags()["scalars"])
    assert scalars(acc) == expected(rows)
    grids = acc.Images("samples")
    assert [g.step for g in grids] == [PER_EPOCH, 2 * PER_EPOCH]
    for epoch, grid in enumerate(grids, 1):
        shown = np.asarray(Image.open(BytesIO(grid.encoded_image_string)).convert("RGB"))
        saved = np.asarray(Image.open(run / "samples" / f"epoch-{epoch:04d}.png").convert("RGB"))
        assert shown.shape == saved.shape and (shown == saved).all(), f"grid of epoch {epoch} differs"


def test_a_resumed_run_drops_the_events_a_dead_run_wrote_after_its_checkpoint(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    run, elsewhere = tmp_path / "run", tmp_path / "tb"
    train(run, "--callback", "tensorboard", "--tb-dir", str(elsewhere), "--steps", "20",
          batch_size=BATCH, log_every=10)  # fmt: skip
    # what a run killed after step 30 leaves behind: a row and events past its checkpoint (step 20)
    with (run / "metrics.jsonl").open("a") as fh:
        fh.write(json.dumps({"step": 30, "epoch": 1.5, "d_loss": 123.0}) + "\n")
    dead = SummaryWriter(str(elsewhere))
    dead.add_scalar("d_loss", 123.0, global_step=30)
    dead.close()
    code, output = gan("run", "--resume", run, "--steps", "40")
    assert code == 0, output
    rows = read_rows(run)
    assert [r["step"] for r in rows] == [10, 20, 30, 40] and rows[2]["d_loss"] != 123.0
    assert not (run / "tensorboard").exists()  # --tb-dir was kept in the run's config
    got = scalars(events(elsewhere))
    assert got == expected(rows)
