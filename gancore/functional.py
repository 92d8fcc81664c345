"""Tensor functions that more than one technique needs, written once and exported in the public API.

A plugin package may import only ``gancore``, so without this module each one that penalises the
critic's gradient (gan-wgan's ``gp``, gan-lsgan's ``cn-gp``) or chains augmentations (the engine's
``--augment``, gan-icr's ``--bcr-augment``) carried its own copy. Pure functions of tensors and
callables: no gancore import, so any layer may use them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
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
