"""Top-k's k schedule, the weights it gives and the loss the engine then optimises, against values
worked out by hand from fixed critic outputs."""

from __future__ import annotations

import math

import pytest
import torch
from gan_topk.topk import TopK, top_k, top_k_mask
from torch import nn

from gancore import DataSpec, GANModel, GeneratorStepContext
from gancore.testing import Vanilla, reduce_losses

FAKE_OUT = [0.3, -1.2, 2.0, 0.7, -0.1, 1.1]  # the critic's scores of six fakes


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def context(fake_out: torch.Tensor, epoch: int) -> GeneratorStepContext:
    spec, cpu = DataSpec((1,), "points"), torch.device("cpu")
    model = GANModel(nn.Identity(), nn.Identity(), None, Vanilla(), 1, spec, cpu)
    zeros = torch.zeros(fake_out.shape[0], 1)
    return GeneratorStepContext(model, zeros, zeros, zeros, fake_out, 0, epoch)


def test_k_starts_at_the_batch_and_decays_to_its_floor():
    # k = max(ceil(nu n), floor(gamma^epoch n))
    assert top_k(128, 0, 0.99, 0.5) == 128
    assert top_k(128, 10, 0.99, 0.5) == 115  # 128 * 0.99^10 = 115.76
    assert top_k(128, 68, 0.99, 0.5) == 64  # 128 * 0.99^68 = 64.4
    assert top_k(128, 100, 0.99, 0.5) == 64  # 46.8 < the floor of 64
    assert top_k(6, 2, 0.8, 0.25) == 3  # floor(6 * 0.64) = 3 > ceil(1.5) = 2
    assert top_k(6, 50, 0.5, 0.0) == 1  # never zero


def test_the_weights_select_the_k_best_scored_fakes_and_the_loss_is_their_mean():
    fake_out = torch.tensor(FAKE_OUT, requires_grad=True)
    ctx = context(fake_out, epoch=2)
    weights = TopK(topk_gamma=0.8, topk_min=0.25).generator_weights(ctx)
    # k = 3: the scores 2.0, 1.1 and 0.7, at positions 2, 5 and 3
    assert weights.tolist() == [0.0, 0.0, 1.0, 1.0, 0.0, 1.0]
    assert not weights.requires_grad
    losses = Vanilla(loss_per_sample=True).generator_loss(fake_out)  # softplus(-v), one per fake
    plain, weighted = reduce_losses(losses, [weights])
    assert plain.item() == pytest.approx(sum(softplus(-v) for v in FAKE_OUT) / 6, rel=1e-6)
    expected = (softplus(-2.0) + softplus(-1.1) + softplus(-0.7)) / 3
    assert weighted.item() == pytest.approx(expected, rel=1e-6)
    # only the kept fakes get a gradient: d/dv softplus(-v) / k = -(1 - sigmoid(v)) / 3
    weighted.backward()
    sigmoid = [1 / (1 + math.exp(-v)) for v in FAKE_OUT]
    kept = {2, 3, 5}
    by_hand = [-(1 - s) / 3 if i in kept else 0.0 for i, s in enumerate(sigmoid)]
    assert fake_out.grad.tolist() == pytest.approx(by_hand, rel=1e-6)


def test_at_epoch_zero_every_fake_counts():
    ctx = context(torch.tensor(FAKE_OUT), epoch=0)
    assert TopK().generator_weights(ctx).tolist() == [1.0] * 6
    assert TopK().critic_weights(None) is None  # the critic's update is left alone


def test_the_mask_stays_on_the_scores_device_and_dtype():
    scores = torch.tensor([1.0, 3.0, 2.0], dtype=torch.float64)
    mask = top_k_mask(scores, 2)
    assert mask.dtype == torch.float64 and mask.device == scores.device
    assert mask.tolist() == [0.0, 1.0, 1.0]


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_options_outside_zero_one_are_refused(value):
    with pytest.raises(ValueError):
        TopK(topk_gamma=value)
    with pytest.raises(ValueError):
        TopK(topk_min=value)
