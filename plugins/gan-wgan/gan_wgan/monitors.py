"""Lipschitz monitors (report 002): an upper bound and an empirical lower bound of the critic's constant."""

from __future__ import annotations

import attrs
import torch
from torch import Tensor

from gan_wgan.lipschitz import evaluating, spectral_norm_product
from gancore import LipschitzMonitor, MonitorContext, input_gradient_norms, interpolates, option


@attrs.define
class SpectralProduct(LipschitzMonitor):
    """Product of the critic layers' spectral norms (power iteration kept between calls, and in
    checkpoints): an upper bound."""

    name = "spectral-product"
    sn_power_iters: int = option(
        5, help="power iterations per measurement (50 the first time)", validator=attrs.validators.ge(1)
    )
    _vectors: dict[str, Tensor] = attrs.field(factory=dict, init=False, repr=False)
    _rng: torch.Generator = attrs.field(
        factory=lambda: torch.Generator().manual_seed(0), init=False, repr=False
    )

    def measure(self, ctx: MonitorContext) -> dict[str, Tensor]:
        iters = self.sn_power_iters
        # eval mode: reading a spectral-normalized weight in training mode would advance its power iteration
        with evaluating(ctx.model.critic) as critic:
            bound = spectral_norm_product(critic, self._vectors, iters, max(iters, 50), self._rng)
        return {"bound": bound}

    def state_dict(self) -> dict[str, Tensor]:
        return {name: u.detach().cpu() for name, u in self._vectors.items()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self._vectors = dict(state)  # moved to the critic's device at the next measurement


@attrs.define
class InterpolateGradNorm(LipschitzMonitor):
    """Largest (and mean) critic gradient norm on real/fake interpolates: a lower bound."""

    name = "interp-grad"
    _rng: torch.Generator | None = attrs.field(default=None, init=False, repr=False)

    def measure(self, ctx: MonitorContext) -> dict[str, Tensor]:
        device = ctx.real.device
        if self._rng is None or self._rng.device != device:
            # its own generator: measuring must not change the run's random stream
            self._rng = torch.Generator(device=device)
        self._rng.manual_seed(ctx.step)  # from the step, not the process: a resume draws the same
        with torch.enable_grad(), evaluating(ctx.model.critic):
            x = interpolates(ctx.real, ctx.fake, self._rng)
            norms = input_gradient_norms(ctx.model.score_clean, x).detach()
        return {"max": norms.max(), "mean": norms.mean()}
