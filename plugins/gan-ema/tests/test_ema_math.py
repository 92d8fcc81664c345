"""The EMA update against values computed by hand, the start step, buffers, and its saved state."""

from __future__ import annotations

import pytest
import torch
from gan_ema.ema import EMA
from torch import nn

from gancore import DataSpec, GANModel


def model_with(generator: nn.Module) -> GANModel:
    return GANModel(generator, nn.Identity(), None, None, 1, DataSpec((1,), "points"), torch.device("cpu"))


def scalar_generator(value: float) -> nn.Module:
    g = nn.Linear(1, 1, bias=False)
    nn.init.constant_(g.weight, value)
    return g


def set_live(model: GANModel, value: float) -> None:
    with torch.no_grad():
        model.generator.weight.fill_(value)


def averages(ema: EMA, start: float, lives: tuple[float, ...]) -> list[float]:
    """The average's weight after each generator step whose live weight is ``lives[i]``."""
    model = model_with(scalar_generator(start))
    ema.setup(model)
    seen = []
    for live in lives:
        set_live(model, live)
        with torch.no_grad():
            ema.after_generator_step(model)
        seen.append(ema.average.weight.item())
    return seen


def test_the_average_by_hand():
    model = model_with(scalar_generator(1.0))
    ema = EMA(ema_decay=0.5, ema_warmup=False)
    ema.setup(model)
    assert ema.sampled_generator() is ema.average and ema.average is not model.generator
    for live in (3.0, 5.0, -1.0):
        set_live(model, live)
        with torch.no_grad():
            ema.after_generator_step(model)
    # 1 -> (1 + 3)/2 = 2 -> (2 + 5)/2 = 3.5 -> (3.5 - 1)/2 = 1.25
    assert ema.average.weight.item() == pytest.approx(1.25)
    assert int(ema.updates) == 3 and not ema.average.weight.requires_grad


def test_before_ema_start_the_average_copies_the_live_weights():
    seen = averages(EMA(ema_decay=0.5, ema_start=2, ema_warmup=False), 0.0, (4.0, 8.0, 2.0, 6.0))
    # updates 0 and 1 copy (4, 8); from the third on it averages: (8 + 2)/2 = 5, (5 + 6)/2 = 5.5
    assert seen == pytest.approx([4.0, 8.0, 5.0, 5.5])


def test_decay_zero_follows_the_live_weights():
    model = model_with(scalar_generator(1.0))
    ema = EMA(ema_decay=0.0, ema_warmup=False)
    ema.setup(model)
    set_live(model, 7.0)
    with torch.no_grad():
        ema.after_generator_step(model)
    assert ema.average.weight.item() == 7.0


def test_a_start_after_the_runs_end_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    EMA(ema_start=99).check_length(100, 10)
    assert capsys.readouterr().err == ""
    EMA(ema_start=100).check_length(100, 10)
    assert "--ema-start 100 is at or after the run's end (step 100)" in capsys.readouterr().err


def test_warmup_ramps_beta_from_the_start_step():
    seen = averages(EMA(ema_decay=0.2, ema_start=1), 0.0, (10.0, 20.0, 0.0, 30.0))
    # update 0 copies (10); then beta = min(0.2, (1+t)/(10+t)) for t = 0, 1, 2: 1/10, 2/11, 0.2
    # 0.1*10 + 0.9*20 = 19; (2/11)*19 + (9/11)*0 = 38/11; 0.2*38/11 + 0.8*30 = 7.6/11 + 24
    assert seen == pytest.approx([10.0, 19.0, 38 / 11, 7.6 / 11 + 24])


def test_buffers_follow_the_live_generator():
    generator = nn.Sequential(nn.Linear(1, 2), nn.BatchNorm1d(2))
    model = model_with(generator)
    ema = EMA()
    ema.setup(model)
    generator(torch.randn(8, 1) * 3 + 2)  # training mode: moves the running statistics
    with torch.no_grad():
        ema.after_generator_step(model)
    assert torch.equal(ema.average[1].running_mean, generator[1].running_mean)
    assert int(ema.average[1].num_batches_tracked) == 1


def test_state_is_the_update_count_restored_in_place():
    model = model_with(scalar_generator(1.0))
    ema = EMA()
    ema.setup(model)
    counter = ema.updates
    ema.load_state_dict({"updates": torch.tensor(41)})
    assert ema.state_dict()["updates"] is counter and int(counter) == 41


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="--ema-decay"):
        EMA(ema_decay=1.5)
    with pytest.raises(ValueError, match=r"--ema-decay must be in \[0, 1\), got 1.0"):
        EMA(ema_decay=1.0)  # the average would keep the first weights forever
    with pytest.raises(ValueError, match="--ema-start"):
        EMA(ema_start=-1)
