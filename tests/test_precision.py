"""--precision: bf16 autocast changes the arithmetic but not the result's meaning; tf32 is a CUDA switch."""

from __future__ import annotations

import math
import tomllib

import pytest
import torch

from gancore.testing import gan, train
from gancore.train.assembly import set_matmul_precision


def test_bf16_autocast_is_used_and_stays_close_to_fp32(tmp_path) -> None:
    regs = ["--reg", "gp", "--reg", "zcr", "--reg", "modeseek"]  # a double backward and generator terms
    fp32 = train(tmp_path / "fp32", "--steps", "50", "--precision", "fp32", *regs)
    bf16 = train(tmp_path / "bf16", "--steps", "50", "--precision", "bf16", *regs)
    for key in ("d_loss", "g_loss", "reg/gp", "reg/modeseek/g"):
        a, b = fp32[0][key], bf16[0][key]
        assert math.isfinite(b) and a != b, key  # bfloat16 matmuls: not the float32 numbers ...
        assert b == pytest.approx(a, rel=0.02), key  # ... but within bfloat16's precision of them
    assert tomllib.loads((tmp_path / "bf16" / "config.toml").read_text())["precision"] == "bf16"


def test_tf32_is_on_unless_fp32() -> None:
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    try:
        set_matmul_precision("fp32")
        assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
        set_matmul_precision("tf32")
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def test_unknown_precision_is_one_line(tmp_path) -> None:
    code, output = gan("run", "--dataset", "ring8", "--precision", "fp16", "--out", tmp_path / "run")
    assert code == 2 and output.strip() == "error: --precision must be one of fp32, tf32, bf16; got 'fp16'"
    assert not (tmp_path / "run").exists()
