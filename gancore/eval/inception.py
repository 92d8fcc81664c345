"""`--features inception`: the standard FID Inception-v3 (pool3, 2048 features), for comparison with
published numbers. gancore ships no Inception weights (92 MB, and not ours); it uses

- a weights file the user gives with ``--inception-weights``: pytorch-fid's state dict
  ``pt_inception-2015-12-05-6726825d.pth`` (read with ``torch.load(weights_only=True)``), or the same
  tensors saved as ``.safetensors``; pytorch-fid must be installed, for the network definition.
  Weights only: a TorchScript file (StyleGAN's ``inception-2015-12-05.pt``) is refused, because
  loading one runs the code stored in it;
- or pytorch-fid's own loader, which reads torch's hub cache and downloads when online.

Anything else is one line saying what to supply (exit 2).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import torch
from torch import Tensor, nn

from gancore.errors import ConfigError
from gancore.eval.features import FeatureNet, sha256_of

NAME = "inception-v3-fid"
HOW = (
    "--features inception needs the FID Inception-v3 weights: pass --inception-weights FILE"
    " (pytorch-fid's pt_inception-2015-12-05-6726825d.pth, or its tensors as .safetensors, with"
    " `pip install pytorch-fid`), or install pytorch-fid on a machine that can download them"
)


class _PytorchFidInception(nn.Module):
    """pytorch-fid's InceptionV3 (pool3 block): takes [0, 1] RGB, resizes to 299 bilinearly."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def embed(self, x: Tensor) -> tuple[Tensor, None]:
        rgb = x.add(1).mul(0.5).expand(-1, 3, -1, -1)
        return self.model(rgb)[0].flatten(1), None


def _pytorch_fid(weights: Path | None) -> tuple[nn.Module, Path | None]:
    try:
        import pytorch_fid.inception as pfi
    except ImportError:
        raise ConfigError(HOW) from None
    if weights is None:
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                model = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]])
        except Exception as exc:
            raise ConfigError(f"{HOW} (the download failed: {type(exc).__name__})") from None
        cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(pfi.FID_WEIGHTS_URL).name
        return model, cached if cached.is_file() else None
    # pytorch-fid always fetches its weights by URL; hand it the user's file instead
    original = pfi.load_state_dict_from_url
    pfi.load_state_dict_from_url = lambda *a, **k: _state_dict(weights)
    try:
        model = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]])
    except Exception as exc:
        what = type(exc).__name__
        raise ConfigError(f"{weights} is not the pytorch-fid Inception state dict ({what})") from None
    finally:
        pfi.load_state_dict_from_url = original
    return model, weights


def _state_dict(weights: Path) -> dict[str, Tensor]:
    """Tensors only, never code: safetensors, or torch's zip format read with ``weights_only``."""
    if weights.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(weights))
    return torch.load(weights, map_location="cpu", weights_only=True)


_LOADED: dict[tuple[str, str], FeatureNet] = {}


def load(weights: str | Path | None, device: torch.device) -> FeatureNet:
    """The FID Inception network as a FeatureNet (features only, no class predictions)."""
    path = Path(weights).expanduser() if weights else None
    if path is not None and not path.is_file():
        raise ConfigError(f"--inception-weights {weights}: no such file")
    key = (sha256_of(path) if path is not None else "", str(device))
    if key in _LOADED:
        return _LOADED[key]
    network, path = _pytorch_fid(path)
    model = _PytorchFidInception(network)
    model.eval().requires_grad_(False).to(device)
    sha = sha256_of(path) if path is not None else "unknown"
    _LOADED[key] = FeatureNet(NAME, sha, model, None, (3, 299, 299), max_batch=100)
    return _LOADED[key]
