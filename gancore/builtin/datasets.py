"""MNIST and Fashion-MNIST through torchvision, and the 2D mode-collapse toys ring8 and grid25.

Each brings its own evaluation: the image sets a feature network (weights shipped in ``weights/``
beside this module, checked by sha256) and their real-vs-real floor, the toys their modes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import ClassVar

import attrs
import torch

from gancore import (
    Data,
    Dataset,
    DataSpec,
    FeatureNetSpec,
    ImageEvaluation,
    ModeEvaluation,
    gaussian_mixture,
    load_torchvision_images,
    option,
)

WEIGHTS = Path(__file__).parent / "weights"


@attrs.define
class _TorchvisionImages(Dataset):
    folder: ClassVar[str] = ""
    subset: int = option(
        0, help="train on the first N images only (0: all)", validator=attrs.validators.ge(0)
    )

    def load(self, root: Path, device: torch.device) -> Data:
        images, labels = load_torchvision_images(self.folder, root, train=True)
        if self.subset:
            images, labels = images[: self.subset], labels[: self.subset]
        spec = DataSpec(tuple(images.shape[1:]), "image", num_classes=10)
        return Data(images.to(device), spec, labels.to(device))

    def evaluation(self) -> ImageEvaluation:
        return ImageEvaluation(self.feature_net(), self.floor())

    def feature_net(self) -> FeatureNetSpec:
        raise NotImplementedError

    def floor(self) -> dict[str, float] | None:
        return None


@attrs.define
class MNIST(_TorchvisionImages):
    """MNIST handwritten digits, 60,000 training images of 28x28 (LeCun et al. 1998)."""

    name = "mnist"
    folder = "MNIST"

    def feature_net(self) -> FeatureNetSpec:
        """The shipped ``mnist-cnn`` (99.46% test accuracy; docs/evaluation.md has its recipe)."""
        sha = "beafa22d6afb3e1ca4b80ab04e708e62c481435d81d6afe9790bbe6640a3f79d"
        return FeatureNetSpec("mnist-cnn", self.name, self.folder, WEIGHTS / "mnist-cnn.safetensors", sha)

    def floor(self) -> dict[str, float]:
        """10,000 training images against the 10,000 test images, measured with `gan eval --real`."""
        return {
            "fid": 1.540,
            "precision": 0.8714,
            "recall": 0.8873,
            "density": 0.9340,
            "coverage": 0.9469,
            "classes_covered": 10,
            "class_kl": 0.0027,
        }


@attrs.define
class FashionMNIST(_TorchvisionImages):
    """Fashion-MNIST, 60,000 28x28 images of clothing in 10 classes (Xiao et al. 2017)."""

    name = "fashion-mnist"
    folder = "FashionMNIST"

    def feature_net(self) -> FeatureNetSpec:
        """Not shipped yet (no Fashion-MNIST files here): `gan evaluator train --dataset fashion-mnist`
        makes the file; copying it to ``weights/`` and recording its sha256 here ships it."""
        name = "fashion-mnist-cnn"
        return FeatureNetSpec(name, self.name, self.folder, WEIGHTS / f"{name}.safetensors")


class _Toy(Dataset):
    needs_files = False
    recommends: ClassVar[dict] = {"generator": "toy", "critic": "toy"}
    size: ClassVar[int] = 20_000
    std: ClassVar[float] = 0.02

    def means(self) -> torch.Tensor:
        raise NotImplementedError

    def load(self, root: Path, device: torch.device) -> Data:
        means = self.means()
        points, labels = gaussian_mixture(means, self.std, self.size, seed=0)
        return Data(points.to(device), DataSpec((2,), "points", num_classes=len(means)), labels.to(device))

    def evaluation(self) -> ModeEvaluation:
        """Modes covered, high-quality share and mode KL against the mixture's own means and std."""
        return ModeEvaluation(self.means(), self.std)


@attrs.define
class Ring8(_Toy):
    """Eight Gaussians (std 0.02) evenly spaced on a circle of radius 2: the classic mode-collapse toy."""

    name = "ring8"

    def means(self) -> torch.Tensor:
        angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
        return (2.0 * torch.stack([angles.cos(), angles.sin()], 1)).float()


@attrs.define
class Grid25(_Toy):
    """25 Gaussians (std 0.05) on a 5x5 grid at -4, -2, 0, 2, 4."""

    name = "grid25"
    std = 0.05

    def means(self) -> torch.Tensor:
        axis = torch.arange(-4.0, 5.0, 2.0)
        return torch.cartesian_prod(axis, axis)
