"""The shipped feature network: present, small, untampered, accurate; and rebuilt reproducibly."""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np
import pytest
import torch

from gancore.errors import ConfigError, GancoreError
from gancore.eval import evaluate as ev
from gancore.eval import features as feats
from gancore.eval.train import accuracy, build
from gancore.io.data import load_torchvision_images

CPU = torch.device("cpu")


def net_of(dataset: str) -> feats.FeatureNetSpec:
    """The feature network a dataset's evaluation declares."""
    return ev.evaluation_for(dataset).net


def test_shipped_weights_match_their_sha256() -> None:
    spec = net_of("mnist")
    assert spec.shipped is not None and spec.shipped.parent.parent.name == "builtin"
    assert spec.shipped.stat().st_size < 2 * 1024 * 1024
    assert feats.sha256_of(spec.shipped) == spec.sha256
    net = feats.load(None, spec, CPU)
    assert net.sha256 == spec.sha256 and net.num_classes == 10
    f, logits = net.model.embed(torch.zeros(2, 1, 28, 28))
    assert f.shape == (2, 128) and logits.shape == (2, 10)


def test_folded_network_computes_the_trained_function() -> None:
    from safetensors.torch import load_file

    trained = feats.DigitCNN()
    trained.load_state_dict(load_file(str(net_of("mnist").shipped)))
    trained.eval()
    folded = feats.load(None, net_of("mnist"), CPU).model
    x = torch.rand(64, 1, 28, 28) * 2 - 1
    with torch.inference_mode():
        for a, b in zip(folded.embed(x), trained.embed(x), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_tampered_weights_are_refused() -> None:
    tampered = attrs.evolve(net_of("mnist"), sha256="0" * 64)
    with pytest.raises(GancoreError, match="damaged or replaced"):
        feats.load(None, tampered, CPU)


def test_a_dataset_without_shipped_weights_says_how_to_make_them() -> None:
    assert net_of("fashion-mnist").shipped is None
    with pytest.raises(ConfigError, match="gan evaluator train --dataset fashion-mnist"):
        feats.load(None, net_of("fashion-mnist"), CPU)


def test_a_file_that_is_not_a_feature_network(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(3)}, str(path))
    with pytest.raises(ConfigError, match="not a feature network"):
        feats.load(path, net_of("mnist"), CPU)
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    with pytest.raises(ConfigError, match="not a safetensors file"):
        feats.load(tmp_path / "junk.safetensors", net_of("mnist"), CPU)


@pytest.mark.mnist
def test_shipped_network_classifies_mnist(mnist: Path) -> None:
    images, labels = load_torchvision_images("MNIST", mnist, train=False)
    net = feats.load(None, net_of("mnist"), CPU)
    assert accuracy(net.model, images[:1000], labels[:1000]) >= 0.99


def test_rebuilding_is_bitwise_reproducible_and_usable(tiny_mnist: Path, tmp_path: Path) -> None:
    spec = net_of("mnist")
    quiet = lambda line: None  # noqa: E731
    sha_a, _ = build(spec, tiny_mnist, tmp_path / "a.safetensors", CPU, epochs=1, log=quiet)
    sha_b, _ = build(spec, tiny_mnist, tmp_path / "b.safetensors", CPU, epochs=1, log=quiet)
    assert sha_a == sha_b == feats.sha256_of(tmp_path / "a.safetensors")
    sha_c, _ = build(
        spec, tiny_mnist, tmp_path / "c.safetensors", torch.device("cpu"), epochs=1, seed=1, log=quiet
    )
    assert sha_c != sha_a
    info = feats.read_info(tmp_path / "a.safetensors")
    assert info["dataset"] == "mnist" and info["recipe"]["epochs"] == 1
    # a rebuilt network is used with --features FILE, under its own name and hash
    fake = np.zeros((20, 28, 28), np.uint8)
    result = ev.evaluate(
        fake, n_real=50, data_dir=tiny_mnist, device="cpu", features=tmp_path / "a.safetensors"
    )
    assert result["feature_net"] == "a" and result["feature_sha256"] == sha_a
    assert result["classifier_sha256"] == sha_a
