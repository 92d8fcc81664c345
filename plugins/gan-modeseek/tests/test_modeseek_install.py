"""gan-modeseek installs on its own; `gan plugins` lists its regularizer and prior with no other plugin."""

from __future__ import annotations

from pathlib import Path

from gancore.testing import gan, installs_alone, plugins_line

PACKAGE = Path(__file__).resolve().parents[1]
DISTRIBUTION, MODULE = "gan-modeseek", "gan_modeseek"
OTHERS = ["gan_drs", "gan_wgan", "gan_fgan", "gan_lsgan", "gan_icr"]  # siblings that must not be needed
NAMES = ["regularizer:modeseek", "prior:gmm"]


def test_listed_by_gan_plugins():
    line = plugins_line(gan("plugins")[1], DISTRIBUTION)
    assert all(name in line for name in NAMES), line


def test_installs_alone_into_a_fresh_site(tmp_path):
    line = installs_alone(PACKAGE, DISTRIBUTION, MODULE, OTHERS, tmp_path)
    assert all(name in line for name in NAMES), line
