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
from torch import Tensor

from gancore import Augmentation, ConfigError, GANModel, cutout, flip, option, translate

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
