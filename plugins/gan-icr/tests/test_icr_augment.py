"""The DiffAugment functions keep shapes, move pixels, let gradients through, and refuse non-images."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from gan_icr.augment import AUGMENTATIONS, Cutout, Flip, Translation, color, cutout, flip, translate

from gancore import ConfigError, DataSpec

pytestmark = pytest.mark.usefixtures("one_thread")  # from the gancore.testing pytest plugin


def images(n: int = 16, c: int = 3, h: int = 16, w: int = 12) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.rand(n, c, h, w) * 2 - 1


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_keeps_shape_and_lets_gradients_flow(name):
    x = images().requires_grad_(True)
    out = AUGMENTATIONS[name]()(x)
    assert out.shape == x.shape
    (out * torch.randn_like(out)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_flip_twice_is_identity_and_flips_mirror():
    x = images()
    once = Flip(flip_prob=1.0)(x)
    assert torch.equal(once, x.flip(-1))
    assert torch.equal(Flip(flip_prob=1.0)(once), x)
    assert torch.equal(flip(x, 0.0), x)
    torch.manual_seed(1)
    mixed = flip(x, 0.5)  # each image either untouched or mirrored, both kinds in a batch of 16
    same = (mixed == x).flatten(1).all(1)
    mirrored = (mixed == x.flip(-1)).flatten(1).all(1)
    assert (same | mirrored).all() and same.any() and mirrored.any()


def test_translation_shifts_whole_images_with_zero_fill():
    x = images(n=64, c=1, h=8, w=8)
    torch.manual_seed(2)
    out = translate(x, 0.25)  # shifts of up to 2 pixels
    assert not torch.equal(out, x)
    for i in range(x.shape[0]):  # every output is x shifted by some (dy, dx) in [-2, 2]^2, zeros around
        matches = []
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                expected = torch.zeros_like(x[i])
                src = x[i, :, max(dy, 0) : 8 + min(dy, 0), max(dx, 0) : 8 + min(dx, 0)]
                expected[:, max(-dy, 0) : 8 + min(-dy, 0), max(-dx, 0) : 8 + min(-dx, 0)] = src
                matches.append(torch.equal(out[i], expected))
        assert sum(matches) == 1, i
    assert torch.equal(translate(x, 0.0), x)


def test_cutout_zeroes_one_square_per_image():
    x = images(n=32, c=2, h=8, w=8) * 0.5 + 0.75  # no zeros in the input
    torch.manual_seed(3)
    out = cutout(x, 0.5)
    zero = out == 0
    assert torch.equal(zero[:, 0], zero[:, 1])  # the same square in every channel
    assert torch.equal(out[~zero], x[~zero])  # everything else untouched
    counts = zero[:, 0].flatten(1).sum(1)
    assert (counts > 0).all() and (counts <= 16).all() and (counts == 16).any()  # 4x4, clipped at edges
    rows, cols = zero[:, 0].any(2), zero[:, 0].any(1)
    assert torch.equal(counts, rows.sum(1) * cols.sum(1))  # a rectangle
    assert torch.equal(Cutout(cutout_ratio=0.0)(x), x)


def test_color_changes_images_and_translation_component_uses_its_ratio():
    x = images()
    assert not torch.allclose(color(x), x)
    assert torch.equal(Translation(translation_ratio=0.0)(x), x)


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_points_are_refused_with_one_line(name):
    with pytest.raises(ConfigError, match=r"works on images .* shape \(2,\)"):
        AUGMENTATIONS[name]().check(SimpleNamespace(spec=DataSpec((2,), "points")))
    AUGMENTATIONS[name]().check(SimpleNamespace(spec=DataSpec((1, 28, 28), "image")))  # images pass
