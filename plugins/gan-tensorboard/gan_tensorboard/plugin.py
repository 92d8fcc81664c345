"""The entry point gancore loads (group ``gancore``): the TensorBoard callback."""

from __future__ import annotations

from gan_tensorboard.logger import TensorBoard
from gancore import hookimpl


@hookimpl
def gancore_callbacks() -> list[type]:
    return [TensorBoard]
