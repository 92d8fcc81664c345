"""The conv critics: report 002's exactly, and the configurable one behind ``--critic conv``."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gancore.builtin.networks import ConvCritic, ReportConvCritic
from gancore.errors import ConfigError
from gancore.records import DataSpec

MNIST = DataSpec((1, 28, 28), "image")


def test_report_002_critic_is_the_reports_layers():
    net = ReportConvCritic().build(MNIST, 100)
    convs = [m for m in net if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [
        (16, (3, 3), (2, 2)), (32, (3, 3), (2, 2)), (64, (3, 3), (2, 2)), (128, (3, 3), (2, 2))
    ]  # fmt: skip
    assert not any(isinstance(m, nn.GroupNorm | nn.BatchNorm2d) for m in net)
    assert net[-1].in_features == 128 * 2 * 2  # 28 -> 14 -> 7 -> 4 -> 2
    assert net(torch.zeros(5, 1, 28, 28)).shape == (5, 1)


@pytest.mark.parametrize(("norm", "layer"), [("layer", nn.GroupNorm), ("batch", nn.BatchNorm2d)])
def test_conv_critic_options_shape_the_network(norm, layer):
    net = ConvCritic(conv_width=8, conv_depth=3, conv_kernel=4, conv_norm=norm).build(MNIST, 100)
    convs = [m for m in net if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 16, 32]
    assert all(c.kernel_size == (4, 4) for c in convs)
    # the first block sees the image and is not normalized; the others are
    assert sum(isinstance(m, layer) for m in net) == 2
    assert net[-1].in_features == 32 * 3 * 3  # 28 -> 14 -> 7 -> 3 with kernel 4, padding 1
    assert net(torch.zeros(4, 1, 28, 28)).shape == (4, 1)


def test_layer_norm_keeps_samples_independent():
    # a per-sample gradient penalty needs each score to depend on its own sample only
    torch.manual_seed(0)
    net = ConvCritic(conv_width=4, conv_norm="layer").build(MNIST, 100)
    x = torch.randn(3, 1, 28, 28)
    alone = net(x[:1])
    together = net(x)[:1]
    assert torch.allclose(alone, together, atol=1e-6)


def test_a_critic_too_deep_for_the_image_is_refused():
    with pytest.raises(ConfigError, match="--conv-depth"):
        ConvCritic(conv_depth=6, conv_kernel=4).build(MNIST, 100)
    with pytest.raises(ConfigError, match="image data"):
        ConvCritic().build(DataSpec((2,), "points"), 2)
    with pytest.raises(ValueError, match="--conv-norm"):
        ConvCritic(conv_norm="group")
