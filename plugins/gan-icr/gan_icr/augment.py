"""DiffAugment (Zhao et al. 2020): differentiable flip, translation, cutout and color for critic inputs.

Each function takes a batch of images (N, C, H, W) in [-1, 1] and returns an augmented batch of the
same shape. Everything is vectorised over the batch: the random draws come from torch's generator on
the batch's device (no host sync), and the images are moved by gathers and masks, so gradients flow
back to the input (the generator step back-propagates through them).

The same functions serve two purposes: the augmentation components below (``--augment
translation,cutout``, applied by the engine to every critic input in both steps) and the consistency
transform of the ``bcr`` regularizer (``--bcr-augment``).
"""

from __future__ import annotations

import attrs
import torch
import torch.nn.functional as F
from torch import Tensor

from gancore import Augmentation, ConfigError, GANModel, option

_unit = [attrs.validators.ge(0.0), attrs.validators.le(1.0)]


def require_images(shape: tuple[int, ...], who: str) -> None:
    """A one-line ConfigError unless samples of ``shape`` are images (C, H, W)."""
    if len(shape) != 3:
        raise ConfigError(
            f"{who} works on images (N, C, H, W), but this dataset's samples have shape"
            f" {tuple(shape)}; use it with an image dataset (mnist, fashion-mnist)"
        )


class ImageAugmentation(Augmentation):
    """An augmentation of image batches; refuses other data when the run is assembled."""

    def check(self, model: GANModel) -> None:
        spec = model.spec
        require_images(spec.shape, f"augmentation {self.name!r}")


def flip(x: Tensor, prob: float = 0.5) -> Tensor:
    """Mirror each image left-right with probability ``prob``."""
    flipped = torch.rand(x.shape[0], 1, 1, 1, device=x.device) < prob
    return torch.where(flipped, x.flip(-1), x)


def translate(x: Tensor, ratio: float = 0.125) -> Tensor:
    """Shift each image by up to ``ratio`` of its height and width (whole pixels); zeros move in."""
    n, c, h, w = x.shape
    max_dy, max_dx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-max_dy, max_dy + 1, (n, 1), device=x.device)
    dx = torch.randint(-max_dx, max_dx + 1, (n, 1), device=x.device)
    # source row/column of every output pixel in the zero-padded image; out of range -> the padding
    rows = (torch.arange(h, device=x.device) + dy + 1).clamp_(0, h + 1)
    cols = (torch.arange(w, device=x.device) + dx + 1).clamp_(0, w + 1)
    padded = F.pad(x, (1, 1, 1, 1))
    shifted = padded.gather(2, rows[:, None, :, None].expand(n, c, h, w + 2))
    return shifted.gather(3, cols[:, None, None, :].expand(n, c, h, w))


def cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    """Set a square of ``ratio`` times the image's sides, at a random centre, to zero in each image."""
    n, _, h, w = x.shape
    size_y, size_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(0, h + (1 - size_y % 2), (n, 1), device=x.device) - size_y // 2
    left = torch.randint(0, w + (1 - size_x % 2), (n, 1), device=x.device) - size_x // 2
    ys, xs = torch.arange(h, device=x.device), torch.arange(w, device=x.device)
    in_rows = (ys >= top) & (ys < top + size_y)  # (n, h)
    in_cols = (xs >= left) & (xs < left + size_x)  # (n, w)
    keep = ~(in_rows[:, :, None] & in_cols[:, None, :])
    return x * keep[:, None].to(x.dtype)


def color(x: Tensor) -> Tensor:
    """Random brightness (+-0.5), saturation (x0..2) and contrast (x0.5..1.5) per image."""
    n = x.shape[0]
    x = x + (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5) + mean


@attrs.define
class Flip(ImageAugmentation):
    """Random horizontal flip of each image (probability --flip-prob)."""

    name = "flip"
    flip_prob: float = option(0.5, help="probability that an image is mirrored", validator=_unit)

    def __call__(self, x: Tensor) -> Tensor:
        return flip(x, self.flip_prob)


@attrs.define
class Translation(ImageAugmentation):
    """DiffAugment translation: shift by up to --translation-ratio of the image size, zero fill."""

    name = "translation"
    translation_ratio: float = option(
        0.125, help="largest shift, as a fraction of the image's height/width", validator=_unit
    )

    def __call__(self, x: Tensor) -> Tensor:
        return translate(x, self.translation_ratio)


@attrs.define
class Cutout(ImageAugmentation):
    """DiffAugment cutout: zero a random square of --cutout-ratio times the image's sides."""

    name = "cutout"
    cutout_ratio: float = option(
        0.5, help="side of the cut square, as a fraction of the image's", validator=_unit
    )

    def __call__(self, x: Tensor) -> Tensor:
        return cutout(x, self.cutout_ratio)


@attrs.define
class Color(ImageAugmentation):
    """DiffAugment color: random brightness, saturation and contrast."""

    name = "color"

    def __call__(self, x: Tensor) -> Tensor:
        return color(x)


#: every augmentation by name, with its default settings (the transforms --bcr-augment can name)
AUGMENTATIONS: dict[str, type[Augmentation]] = {cls.name: cls for cls in (Flip, Translation, Cutout, Color)}
