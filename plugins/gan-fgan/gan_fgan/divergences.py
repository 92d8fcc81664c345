"""The f-divergences of f-GAN (Nowozin, Cseke & Tomioka 2016, tables 1 and 2).

Each divergence is the generator function ``f`` (convex, on u = p/q > 0), the critic's output
activation ``g_f`` (maps the raw output v onto the domain of the conjugate), the convex conjugate
``f*``, and the threshold ``f'(1)``: the value T = g_f(v) takes where p = q, which separates
"real" from "fake". ``conjugate_of_activation`` is f*(g_f(v)) simplified by hand so that no
exp/log pair can overflow or underflow (for the GAN and JS divergences it is a softplus).

The variational bound the critic maximises is  E_P[g_f(v)] - E_Q[f*(g_f(v))] <= D_f(P || Q),
with equality at the optimal critic T*(x) = f'(p(x)/q(x)).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import attrs
import torch
import torch.nn.functional as F
from torch import Tensor

LOG2 = math.log(2.0)
_TINY = 1e-12  # floor inside the logs of density ratios read off a critic that is not optimal

Fn = Callable[[Tensor], Tensor]


@attrs.frozen
class Divergence:
    """One row of the f-GAN tables, plus the inverses gancore needs (threshold, density ratio)."""

    name: str
    f: Fn  # generator function f(u), u = p/q
    f_prime_1: float  # f'(1): the critic's decision threshold in the T = g_f(v) domain
    activation: Fn  # g_f(v)
    conjugate: Fn  # f*(t), on the domain of the activation's range
    conjugate_of_activation: Fn  # f*(g_f(v)), numerically stable
    activation_inverse: Fn  # g_f^{-1}(t): the raw output that gives T = t
    log_ratio: Fn | None  # log p/q read off the raw output of an optimal critic; None if f' is not invertible

    @property
    def threshold(self) -> float:
        """f'(1) mapped back to the raw critic output (the engine compares raw outputs)."""
        return float(self.activation_inverse(torch.tensor(self.f_prime_1, dtype=torch.float64)))


def _xlogx(u: Tensor) -> Tensor:
    return torch.xlogy(u, u)


GAN = Divergence(
    name="gan",
    f=lambda u: _xlogx(u) - torch.xlogy(u + 1, u + 1),
    f_prime_1=-LOG2,
    activation=lambda v: -F.softplus(-v),  # log sigmoid(v), i.e. log D
    conjugate=lambda t: -torch.log(-torch.expm1(t)),  # -log(1 - e^t)
    conjugate_of_activation=lambda v: F.softplus(v),  # -log(1 - sigmoid(v))
    activation_inverse=lambda t: -torch.log(torch.expm1(-t)),
    log_ratio=lambda v: v,
)

KL = Divergence(
    name="kl",
    f=_xlogx,
    f_prime_1=1.0,
    activation=lambda v: v,
    conjugate=lambda t: torch.exp(t - 1),
    conjugate_of_activation=lambda v: torch.exp(v - 1),
    activation_inverse=lambda t: t,
    log_ratio=lambda v: v - 1,  # f'(u) = 1 + log u
)

REVERSE_KL = Divergence(
    name="rkl",
    f=lambda u: -torch.log(u),
    f_prime_1=-1.0,
    activation=lambda v: -torch.exp(-v),
    conjugate=lambda t: -1 - torch.log(-t),
    conjugate_of_activation=lambda v: v - 1,  # -1 - log(exp(-v))
    activation_inverse=lambda t: -torch.log(-t),
    log_ratio=lambda v: v,  # f'(u) = -1/u = -exp(-v)
)

PEARSON = Divergence(
    name="pearson",
    f=lambda u: (u - 1) ** 2,
    f_prime_1=0.0,
    activation=lambda v: v,
    conjugate=lambda t: t**2 / 4 + t,
    conjugate_of_activation=lambda v: v**2 / 4 + v,
    activation_inverse=lambda t: t,
    log_ratio=lambda v: torch.log((1 + v / 2).clamp_min(_TINY)),  # f'(u) = 2(u - 1)
)

HELLINGER = Divergence(
    name="hellinger",
    f=lambda u: (torch.sqrt(u) - 1) ** 2,
    f_prime_1=0.0,
    activation=lambda v: -torch.expm1(-v),  # 1 - exp(-v)
    conjugate=lambda t: t / (1 - t),
    conjugate_of_activation=lambda v: torch.expm1(v),  # (1 - e^-v) / e^-v
    activation_inverse=lambda t: -torch.log1p(-t),
    log_ratio=lambda v: 2 * v,  # f'(u) = 1 - u^(-1/2)
)

JENSEN_SHANNON = Divergence(
    name="js",
    f=lambda u: _xlogx(u) - torch.xlogy(u + 1, (u + 1) / 2),
    f_prime_1=0.0,
    activation=lambda v: LOG2 - F.softplus(-v),  # log(2 sigmoid(v))
    conjugate=lambda t: -torch.log(2 - torch.exp(t)),
    conjugate_of_activation=lambda v: F.softplus(v) - LOG2,  # -log(2 - 2 sigmoid(v))
    activation_inverse=lambda t: -torch.log(torch.expm1(LOG2 - t)),
    log_ratio=lambda v: v,  # f'(u) = log(2u / (1 + u))
)

TOTAL_VARIATION = Divergence(
    name="tv",
    f=lambda u: (u - 1).abs() / 2,
    f_prime_1=0.0,  # a subgradient: f is not differentiable at 1
    activation=lambda v: torch.tanh(v) / 2,
    conjugate=lambda t: t,
    conjugate_of_activation=lambda v: torch.tanh(v) / 2,
    activation_inverse=lambda t: torch.atanh(2 * t),
    log_ratio=None,  # the optimal critic is +-1/2: it tells the sign of log p/q, not its value
)

ALL = (GAN, JENSEN_SHANNON, KL, REVERSE_KL, PEARSON, HELLINGER, TOTAL_VARIATION)
