"""The entry point gancore loads (group ``gancore``): the topk sample weighting."""

from __future__ import annotations

from gan_topk.topk import TopK
from gancore import hookimpl


@hookimpl
def gancore_sample_weightings() -> list[type]:
    return [TopK]
