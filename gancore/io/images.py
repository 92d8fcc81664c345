"""Pictures of samples: image grids, and scatter plots for 2D points. PNG through Pillow."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from gancore.io.atomic import atomic_path
from gancore.records import DataSpec


def to_uint8(samples: Tensor) -> Tensor:
    """[-1, 1] floats to uint8 pixels."""
    return samples.detach().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8).cpu()


def grid(images: Tensor, nrow: int = 8, pad: int = 2) -> Tensor:
    """uint8 (N, C, H, W) images tiled into one uint8 (C, H', W') picture."""
    from torchvision.utils import make_grid

    tiled = make_grid(images, nrow=nrow, padding=pad, pad_value=0)
    return tiled[:1] if images.shape[1] == 1 else tiled  # make_grid repeats grey to RGB


def scatter(points: Tensor, reference: Tensor | None = None, size: int = 400) -> Tensor:
    """2D points as a uint8 RGB picture: reference (real data) in blue, points in orange."""
    points = points.detach().cpu().float()  # drawn on the CPU whatever device trained them
    reference = None if reference is None else reference.detach().cpu().float()
    everything = points if reference is None else torch.cat([points, reference])
    lo = everything.min(0).values
    span = (everything.max(0).values - lo).max().clamp_min(1e-6) * 1.1
    center = (everything.max(0).values + lo) / 2
    canvas = torch.full((3, size, size), 255, dtype=torch.uint8)

    def draw(p: Tensor, color: tuple[int, int, int]) -> None:
        xy = ((p - center) / span + 0.5) * (size - 1)
        col = xy[:, 0].round().long()
        row = size - 1 - xy[:, 1].round().long()
        for dr, dc in ((0, 0), (0, 1), (1, 0), (1, 1)):  # 2x2 dots
            r, c_ = (row + dr).clamp(0, size - 1), (col + dc).clamp(0, size - 1)
            for c, value in enumerate(color):
                canvas[c, r, c_] = value

    if reference is not None:
        draw(reference, (70, 110, 220))
    draw(points, (240, 120, 20))
    return canvas


def save_png(picture: Tensor, path: Path, *, fsync: bool = True) -> None:
    """A uint8 (C, H, W) picture as a PNG, replacing ``path`` atomically (``fsync``: see atomic_path)."""
    from PIL import Image

    array = picture.permute(1, 2, 0).numpy()
    with atomic_path(path, fsync=fsync) as tmp:
        Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array).save(tmp, format="PNG")


def save_samples_picture(
    samples: Tensor, spec: DataSpec, path: Path, reference: Tensor | None = None
) -> Tensor:
    """One PNG of a batch: a grid for images, a scatter plot over the real data for points.

    Returns the picture saved, uint8 (C, H, W) on the CPU (what a run's callbacks are shown)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    picture = grid(to_uint8(samples)) if spec.kind == "image" else scatter(samples, reference)
    save_png(picture, path)
    return picture
