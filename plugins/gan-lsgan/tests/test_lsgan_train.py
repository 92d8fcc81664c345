"""lsgan and cn-lsgan train through the CLI on ring8 with finite losses."""

from __future__ import annotations

import math

import pytest

from gancore.testing import train

pytestmark = pytest.mark.usefixtures("one_thread")  # from the gancore.testing pytest plugin


@pytest.mark.parametrize("loss", ["lsgan", "cn-lsgan"])
def test_trains_300_steps_on_ring8(tmp_path, loss):
    rows = train(tmp_path / "run", "--loss", loss, "--steps", "300")
    assert [r["step"] for r in rows] == [50, 100, 150, 200, 250, 300]
    assert all(math.isfinite(v) for r in rows for v in r.values())
    # the critic separates: real outputs above fake ones on average
    assert rows[-1]["loss/d_real"] > rows[-1]["loss/d_fake"]
    if loss == "cn-lsgan":
        assert all(r["reg/cn-gp"] >= 0 and r["reg/cn-l2/g"] > 0 for r in rows)
    else:
        assert not any(k.startswith("reg/") for k in rows[-1])
