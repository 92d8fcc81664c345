"""Where datasets live on disk, and loading torchvision's image sets as one uint8 tensor."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import torch
from torch import Tensor

from gancore.errors import DataError

DEFAULT_ROOT = Path("~/.cache/gancore").expanduser()


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path:
    """``--data-dir``, else ``$GANCORE_DATA``, else ``~/.cache/gancore``."""
    if data_dir:
        return Path(data_dir).expanduser()
    if os.environ.get("GANCORE_DATA"):
        return Path(os.environ["GANCORE_DATA"]).expanduser()
    return DEFAULT_ROOT


def load_torchvision_images(name: str, root: Path, train: bool) -> tuple[Tensor, Tensor]:
    """A torchvision MNIST-style set as uint8 (N, 1, H, W) images and int64 labels.

    Reads ``root/<Name>/raw``; downloads there when the files are missing, unless
    ``GANCORE_OFFLINE=1``. Fails with one line saying where the files belong.
    """
    import torchvision.datasets as tvd

    cls = {"MNIST": tvd.MNIST, "FashionMNIST": tvd.FashionMNIST}[name]
    files = [root / name / "raw" / Path(url).name.removesuffix(".gz") for url, _ in cls.resources]
    try:
        ds = cls(str(root), train=train, download=False)
    except Exception:  # torchvision says "not found" for a truncated file, AssertionError for garbage
        if not all(f.is_file() for f in files):
            ds = _download(cls, name, root, train)
        else:
            raise DataError(_corrupt(name, files)) from None
    return ds.data.unsqueeze(1).contiguous(), ds.targets.long()


def _corrupt(name: str, files: list[Path]) -> str:
    """One line naming the IDX file that does not parse, and the two ways to fix it."""
    from torchvision.datasets.mnist import read_sn3_pascalvincent_tensor

    bad, reason = files[0], "unreadable"
    for path in files:
        try:
            read_sn3_pascalvincent_tensor(str(path), strict=False)
        except Exception as exc:
            bad, reason = path, "truncated" if isinstance(exc, RuntimeError) else "not an IDX file"
            break
    return (
        f"{name} file {bad} is corrupt ({reason}): delete it to download it again, or point"
        f" --data-dir or GANCORE_DATA at a folder holding good {name}/raw files"
    )


def _download(cls: type, name: str, root: Path, train: bool):
    where = (
        f"{name} not found in {root / name / 'raw'}: put the four IDX files"
        f" (train-images-idx3-ubyte, ...) there, or point --data-dir or GANCORE_DATA at a folder"
        f" that holds {name}/raw"
    )
    if os.environ.get("GANCORE_OFFLINE"):
        raise DataError(f"{where} (GANCORE_OFFLINE is set, so no download was tried)")
    chatter = io.StringIO()
    try:
        # torchvision prints each failed mirror; keep that out of the user's terminal
        with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
            return cls(str(root), train=train, download=True)
    except Exception as exc:
        raise DataError(f"{where} (download failed: {type(exc).__name__})") from exc


def gaussian_mixture(means: Tensor, std: float, n: int, seed: int) -> tuple[Tensor, Tensor]:
    """``n`` points from an equal-weight mixture of isotropic Gaussians, and their component."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(len(means), (n,), generator=g)
    points = means[labels] + std * torch.randn(n, means.shape[1], generator=g)
    return points, labels
