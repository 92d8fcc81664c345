"""gan-losses registered for a test: its hooks are loaded from the entry point once the package is
installed, and registered at run time (``register_plugin``) while it is not."""

from __future__ import annotations

import gan_losses.plugin
import pytest

from gancore.testing import is_registered


@pytest.fixture
def losses_plugin(register_plugin) -> None:
    if not is_registered(gan_losses.plugin):
        register_plugin(gan_losses.plugin, "gan-losses")
