"""The projection critic's output on fixed weights (computed by hand), its spectral normalization, and
the generator's one-hot input equal to the concatenation it stands for."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from gan_conditional.generator import ConditionalMLP, OneHotInput
from gan_conditional.projection import Projection, ProjectionConv, ProjectionCritic

from gancore import ConfigError, DataSpec

pytestmark = pytest.mark.usefixtures("one_thread")

MNIST = DataSpec((1, 28, 28), "image", num_classes=10)


def test_projection_output_golden_values():
    # phi: Linear(2, 2) then LeakyReLU(0.2); psi: Linear(2, 1); V: 3 classes x 2
    phi = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.LeakyReLU(0.2))
    critic = ProjectionCritic(phi, 2, 3)
    with torch.no_grad():
        phi[0].weight.copy_(torch.tensor([[1.0, -1.0], [0.5, 2.0]]))
        phi[0].bias.copy_(torch.tensor([0.0, -1.0]))
        critic.psi.weight.copy_(torch.tensor([[2.0, 1.0]]))
        critic.psi.bias.copy_(torch.tensor([0.5]))
        critic.embed.weight.copy_(torch.tensor([[0.0, 0.0], [1.0, -1.0], [3.0, 0.5]]))
    x = torch.tensor([[1.0, 2.0], [0.0, 0.0], [1.0, 2.0]])
    y = torch.tensor([1, 2, 0])
    # x=(1, 2):  W x + b = (-1, 3.5) -> phi = (-0.2, 3.5); psi = 2(-0.2) + 3.5 + 0.5 = 3.6
    #            y=1: <(1, -1), phi> = -3.7 -> D = -0.1;  y=0: V_0 = 0 -> D = 3.6
    # x=(0, 0):  W x + b = (0, -1) -> phi = (0, -0.2);    psi = -0.2 + 0.5 = 0.3
    #            y=2: <(3, 0.5), phi> = -0.1 -> D = 0.2
    out = critic(x, y)
    assert out.shape == (3,)
    torch.testing.assert_close(out, torch.tensor([-0.1, 0.2, 3.6]))


def test_the_class_moves_the_score_by_the_projection_alone():
    critic = Projection(projection_sn=False).build(MNIST, 100)
    x = torch.rand(5, 1, 28, 28) * 2 - 1
    a, b = torch.zeros(5, dtype=torch.long), torch.full((5,), 3)
    phi = critic.features(x)
    expected = ((critic.embed.weight[0] - critic.embed.weight[3]) * phi).sum(1)
    torch.testing.assert_close(critic(x, a) - critic(x, b), expected)


@pytest.mark.parametrize("network", [Projection, ProjectionConv])
def test_spectral_normalization_of_every_layer_embedding_included(network):
    critic = network().build(MNIST, 100).train()
    x = torch.rand(8, 1, 28, 28) * 2 - 1
    for _ in range(30):  # one power iteration per training forward pass
        critic(x, torch.arange(8))
    kinds = torch.nn.Linear | torch.nn.Conv2d | torch.nn.Embedding
    layers = [m for m in critic.modules() if isinstance(m, kinds)]
    assert isinstance(layers[-1], torch.nn.Embedding) and len(layers) >= 5
    for layer in layers:
        weight = layer.weight.detach().flatten(1)
        sigma = torch.linalg.matrix_norm(weight, ord=2)
        assert sigma == pytest.approx(1.0, abs=0.05), layer
    plain = network(projection_sn=False).build(MNIST, 100)
    assert not any(hasattr(m, "parametrizations") for m in plain.modules())


def test_the_one_hot_input_is_the_concatenation():
    torch.manual_seed(0)
    layer = OneHotInput(latent_dim=5, num_classes=4, width=7)
    z, y = torch.randn(6, 5), torch.tensor([0, 1, 2, 3, 3, 1])
    weight = torch.cat([layer.z.weight, layer.y.weight.t()], 1)  # the (7, 5 + 4) concatenated layer
    torch.testing.assert_close(layer(z, y), F.linear(torch.cat([z, F.one_hot(y, 4).float()], 1), weight,
                                                     layer.z.bias))  # fmt: skip
    # initialised as nn.Linear(5 + 4, 7) is: uniform within 1/sqrt(fan_in) for every weight
    assert weight.abs().max() <= 1 / 3 and layer.y.weight.abs().max() <= 1 / 3


def test_the_generator_is_the_reports_mlp():
    net = ConditionalMLP().build(MNIST, 100)
    shapes = [tuple(p.shape) for p in net.parameters()]
    assert shapes == [(256, 100), (256,), (10, 256), (512, 256), (512,), (1024, 512), (1024,), (784, 1024),
                      (784,)]  # fmt: skip
    assert isinstance(net.rest[-1], torch.nn.Tanh)
    out = net(torch.randn(3, 100), torch.tensor([0, 5, 9]))
    assert out.shape == (3, 784) and out.abs().max() <= 1
    points = ConditionalMLP().build(DataSpec((2,), "points", num_classes=8), 8)
    assert not isinstance(points.rest[-1], torch.nn.Tanh)


@pytest.mark.parametrize("network", [ConditionalMLP, Projection, ProjectionConv])
def test_data_without_classes_is_refused_in_one_line(network):
    with pytest.raises(ConfigError, match="is conditional: it needs data with class labels"):
        network().build(DataSpec((1, 28, 28), "image"), 100)


def test_the_conv_projection_wants_images():
    with pytest.raises(ConfigError, match="needs image data"):
        ProjectionConv().build(DataSpec((2,), "points", num_classes=8), 8)
