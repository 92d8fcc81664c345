"""gan-icr builds and installs on its own; `gan plugins` lists its names with no other plugin present."""

from __future__ import annotations

from pathlib import Path

from gancore.testing import gan, installs_alone, plugins_line

PACKAGE = Path(__file__).resolve().parents[1]
DISTRIBUTION, MODULE = "gan-icr", "gan_icr"
OTHERS = ["gan_fgan", "gan_wgan", "gan_lsgan"]  # sibling plugins that must not be needed
NAMES = [
    "regularizer:bcr",
    "regularizer:zcr",
    "regularizer:icr",
    "augmentation:flip",
    "augmentation:translation",
    "augmentation:cutout",
    "augmentation:color",
]


def test_listed_by_gan_plugins():
    line = plugins_line(gan("plugins")[1], DISTRIBUTION)
    assert all(name in line for name in NAMES), line


def test_installs_alone_into_a_fresh_site(tmp_path):
    line = installs_alone(PACKAGE, DISTRIBUTION, MODULE, OTHERS, tmp_path)
    assert all(name in line for name in NAMES), line
