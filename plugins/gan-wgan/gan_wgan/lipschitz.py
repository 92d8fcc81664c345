"""Measuring a critic's Lipschitz constant from above, and the critic in eval mode while measuring.

The bound is the product of the layers' spectral norms, each found by power iteration on the weight
reshaped to (out, in * kernel) as spectral normalization does (Miyato et al. 2018); a bound when every
activation is 1-Lipschitz (ReLU, LeakyReLU, tanh). The lower side, the critic's input gradient norm
between real and generated samples, is gancore's ``input_gradient_norms`` (shared with the penalties).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: the layers whose spectral norms multiply into the bound, and which --spectral-norm wraps
WEIGHT_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


@contextlib.contextmanager
def evaluating(module: nn.Module) -> Iterator[nn.Module]:
    """Eval mode for a measurement: no dropout draws, no BatchNorm or spectral-norm buffer updates."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


def weight_layers(critic: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    for name, module in critic.named_modules():
        if isinstance(module, WEIGHT_LAYERS):
            yield name, module


def as_matrix(weight: Tensor) -> Tensor:
    """A linear weight as is; a conv kernel (out, in, *k) reshaped to out x (in * prod(k))."""
    return weight.reshape(weight.shape[0], -1)


@torch.no_grad()
def top_singular_value(matrix: Tensor, u: Tensor, iters: int) -> tuple[Tensor, Tensor]:
    """Power iteration from the left vector ``u``: (sigma_max estimate, updated u)."""
    v = F.normalize(matrix.t() @ u, dim=0)
    for _ in range(iters - 1):
        u = F.normalize(matrix @ v, dim=0)
        v = F.normalize(matrix.t() @ u, dim=0)
    mv = matrix @ v
    return torch.linalg.vector_norm(mv), F.normalize(mv, dim=0)


@torch.no_grad()
def spectral_norm_product(
    critic: nn.Module, vectors: dict[str, Tensor], iters: int, first_iters: int, generator: torch.Generator
) -> Tensor:
    """Product over the critic's weight layers of their largest singular values.

    ``vectors`` keeps each layer's left singular vector between calls, so a few iterations per call
    track the slowly changing weights; a layer seen for the first time gets ``first_iters``.
    """
    product = None
    for name, module in weight_layers(critic):
        matrix = as_matrix(module.weight.detach()).float()  # under spectral_norm: the normalized weight
        u = vectors.get(name)
        n = iters
        if u is not None and u.shape[0] == matrix.shape[0]:
            u = u.to(matrix.device)  # a resumed run's vectors come from the checkpoint, on the CPU
        else:
            # drawn from the monitor's own CPU generator: measuring must not move the run's RNG
            u = F.normalize(torch.randn(matrix.shape[0], generator=generator), dim=0).to(matrix.device)
            n = first_iters
        sigma, vectors[name] = top_singular_value(matrix, u, n)
        product = sigma if product is None else product * sigma
    if product is None:
        raise ValueError("the critic has no Linear or Conv layer to measure")
    return product
