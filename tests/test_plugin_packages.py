"""Every plugin package under plugins/ builds and installs on its own, and `gan plugins` lists its names:
in this environment, and in a fresh folder holding only gancore's environment and that package.

One table instead of one copy of the same two tests per package. A package must install without any of
its siblings (all of them are hidden in the fresh interpreter), so a technique never quietly depends
on another one's package.
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import pytest

from gancore.testing import gan, installs_alone, plugins_line

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"

#: distribution -> the names (kind:name) its `gan plugins` line must show
PACKAGES: dict[str, list[str]] = {
    "gan-conditional": ["generator:cmlp", "critic:projection", "critic:projection-conv"],
    "gan-drs": ["sampler:drs", "sampler:mh", "sampler:threshold", "sampler:interp"],
    "gan-fgan": [f"loss:fgan-{d}" for d in ("gan", "js", "kl", "rkl", "pearson", "hellinger", "tv")],
    "gan-icr": [
        "regularizer:bcr",
        "regularizer:zcr",
        "regularizer:icr",
        "augmentation:flip",
        "augmentation:translation",
        "augmentation:cutout",
        "augmentation:color",
    ],
    "gan-ada": ["augmentation:ada", "callback:ada"],
    "gan-ema": ["callback:ema"],
    "gan-lsgan": ["loss:lsgan", "loss:cn-lsgan", "regularizer:cn-gp", "regularizer:cn-l2"],
    "gan-losses": ["loss:hinge", "loss:ragan", "loss:ralsgan"],
    "gan-modeseek": ["regularizer:modeseek", "prior:gmm"],
    "gan-penalties": ["regularizer:r1", "regularizer:r2"],
    "gan-tensorboard": ["callback:tensorboard"],
    "gan-topk": ["weighting:topk"],
    "gan-wgan": [
        "loss:wgan",
        "loss:wgan-gp",
        "regularizer:gp",
        "critic-step:lipschitz",
        "monitor:spectral-product",
        "monitor:interp-grad",
    ],
}


def module_of(distribution: str) -> str:
    return distribution.replace("-", "_")


def provided(line: str) -> set[str]:
    """The kind:name entries of a `gan plugins` line."""
    return set(re.findall(r"[\w-]+:[\w-]+", line))


def test_the_table_covers_every_package():
    assert sorted(PACKAGES) == sorted(p.name for p in PLUGINS.iterdir() if (p / "pyproject.toml").is_file())


@pytest.mark.parametrize("distribution", sorted(PACKAGES))
def test_listed_by_gan_plugins(distribution):
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:  # a new package before `pip install -e` (its tests
        pytest.skip(f"{distribution} is not installed here")  # register it; the test below installs it)
    line = plugins_line(gan("plugins")[1], distribution)
    assert set(PACKAGES[distribution]) <= provided(line), line


@pytest.mark.parametrize("distribution", sorted(PACKAGES))
def test_installs_alone_into_a_fresh_site(distribution, tmp_path):
    others = [module_of(d) for d in PACKAGES if d != distribution]
    line = installs_alone(PLUGINS / distribution, distribution, module_of(distribution), others, tmp_path)
    assert set(PACKAGES[distribution]) <= provided(line), line
