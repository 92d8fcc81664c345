"""Tensor functions that more than one technique needs, written once and exported in the public API.

A plugin package may import only ``gancore``, so without this module each one that penalises the
critic's gradient (gan-wgan's ``gp``, gan-lsgan's ``cn-gp``) or chains augmentations (the engine's
``--augment``, gan-icr's ``--bcr-augment``) carried its own copy. Pure functions of tensors and
callables: no gancore import, so any layer may use them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import Tensor


def compose(functions: Iterable[Callable[[Tensor], Tensor]]) -> Callable[[Tensor], Tensor]:
    """The functions applied left to right (``compose([f, g])(x) == g(f(x))``); none: the identity."""
    chain = tuple(functions)
    if not chain:
        return lambda x: x

    def composed(x: Tensor) -> Tensor:
        for fn in chain:
            x = fn(x)
        return x

    return composed


def interpolates(real: Tensor, fake: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """eps * real + (1 - eps) * fake with one eps ~ U[0, 1] per sample (Gulrajani et al. 2017).

    Both inputs are detached: a penalty on the interpolates trains the critic, not the generator.
    ``generator`` lets a measurement draw eps without moving the run's random stream.
    """
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    eps = torch.rand(shape, device=real.device, dtype=real.dtype, generator=generator)
    return torch.lerp(fake.detach(), real.detach(), eps)


def input_gradient_norms(score: Callable[[Tensor], Tensor], x: Tensor, create_graph: bool = False) -> Tensor:
    """||d score(x_i) / d x_i|| for every sample: one forward on ``x``, a gradient w.r.t. ``x`` only.

    ``score`` maps a batch to one value per sample (the critic, e.g. ``model.score``); samples are
    independent, so the gradient of the sum holds each sample's own gradient. With ``create_graph``
    the norms can be back-propagated to the critic's weights (the double backward of a penalty);
    asking for the gradient of the inputs alone keeps that second graph as small as it can be.
    """
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(score(x).sum(), x, create_graph=create_graph)
    return torch.linalg.vector_norm(grad.flatten(1), dim=1)


def gradient_penalty(score: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor) -> Tensor:
    """E[(||grad D(x_hat)|| - 1)^2] on random interpolates x_hat, differentiable w.r.t. the critic.

    The two-sided penalty of WGAN-GP (Gulrajani et al. 2017), unweighted: the regularizer that uses
    it multiplies by its own option. It costs one critic forward, on the interpolates only.
    """
    norms = input_gradient_norms(score, interpolates(real, fake), create_graph=True)
    return (norms - 1).square().mean()


def mean_over_processes(t: Tensor) -> Tensor:
    """``t`` averaged over the processes of a torchrun run (a new tensor); ``t`` itself on one process.

    For state that every process must update alike (``model.shared``): each process sees its own
    share of the batch, so a statistic of it differs between processes until averaged.
    """
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return t
    total = t.detach().clone()
    torch.distributed.all_reduce(total)
    return total / torch.distributed.get_world_size()


# DiffAugment's image transforms (Zhao et al. 2020; gan-icr's --augment, ADA's pipeline): images
# (N, C, H, W) in [-1, 1], the random draws made on the batch's device (no host sync), moved by
# gathers and masks so that gradients flow back to the input.


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
