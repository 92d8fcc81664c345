"""What a step checks of the values plugin code returns: one line naming the plugin, not a traceback.

A loss of the wrong shape would otherwise fail deep inside autograd (or, worse, be silently
averaged), and the traceback would not say whose code was wrong. The checks read only a tensor's
type, shape and dtype, which are metadata on the host: they never wait for the device, so they
cost the step nothing measurable and are made on every step (also when a CUDA graph is recorded).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from gancore.components import Loss, Regularizer
from gancore.plugins import PluginContractError


def loss_value(value: Any, loss: Loss, method: str, n: int) -> Tensor:
    """``value`` as returned by ``loss.<method>`` on a batch of ``n``, if it keeps the contract:
    a floating scalar, or with ``per_sample = True`` one value per sample (shape (n,))."""
    expected = (n,) if loss.per_sample else ()
    if isinstance(value, Tensor) and tuple(value.shape) == expected and value.is_floating_point():
        return value
    if loss.per_sample:
        want = f"one value per sample, shape ({n},), as it declares per_sample = True"
    else:
        want = "a scalar; return .mean(), or declare per_sample = True to return one value per sample"
    raise PluginContractError(loss, f"{method} returned {describe(value)}; expected {want}")


def reg_term(value: Any, reg: Regularizer, method: str) -> Tensor | None:
    """``value`` as returned by ``reg.<method>``, if it keeps the contract: None or a floating scalar."""
    if value is None or (isinstance(value, Tensor) and value.ndim == 0 and value.is_floating_point()):
        return value
    want = "a scalar tensor (return .mean() or .sum()), or None to add nothing"
    raise PluginContractError(reg, f"{method} returned {describe(value)}; expected {want}")


def describe(value: Any) -> str:
    """``a float32 tensor of shape (32,)``, ``a float (0.5)``: what a plugin returned, briefly."""
    if isinstance(value, Tensor):
        dtype = str(value.dtype).removeprefix("torch.")
        shape = "a scalar" if value.ndim == 0 else f"shape {tuple(value.shape)}"
        return f"a {dtype} tensor ({shape})"
    text = repr(value)
    text = text if len(text) <= 40 else text[:37] + "..."
    return f"a {type(value).__name__} ({text}), not a tensor"
