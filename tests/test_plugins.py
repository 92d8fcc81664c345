"""The plugin system: run-time plugins, entry points, name clashes, and errors raised inside plugins."""

from __future__ import annotations

import textwrap
import tomllib
from typing import ClassVar

import attrs
import pytest
import torch.nn.functional as F

from gancore import config, plugins
from gancore.builtin.losses import Vanilla
from gancore.components import Loss, option
from tests.conftest import gan

RING = ["--dataset", "ring8", "--device", "cpu", "--steps", "30", "--batch-size", "128"]


@attrs.define
class Hinge(Loss):
    """Hinge loss, registered by a test at run time."""

    name = "hinge"
    recommends: ClassVar[dict] = {"n_critic": 2, "lr_d": 4e-4, "options": {"margin": 2.0}}
    margin: float = option(1.0, help="hinge margin")

    def critic_loss(self, real_out, fake_out):
        return F.relu(self.margin - real_out).mean() + F.relu(self.margin + fake_out).mean()

    def generator_loss(self, fake_out):
        return -fake_out.mean()


@attrs.define
class Broken(Loss):
    name = "broken"

    def critic_loss(self, real_out, fake_out):
        raise ValueError("the critic loss is not implemented yet")

    def generator_loss(self, fake_out):
        return fake_out.mean()


class HingePlugin:
    @plugins.hookimpl
    def gancore_losses(self):
        return [Hinge, Broken]


class ClashingPlugin:
    @plugins.hookimpl
    def gancore_losses(self):
        return [Vanilla]


class FailingHookPlugin:
    @plugins.hookimpl
    def gancore_samplers(self):
        raise RuntimeError("cannot list samplers")


def test_a_plugin_registered_at_run_time_adds_a_usable_loss(tmp_path, builtin_plugins_only, register_plugin):
    register_plugin(HingePlugin(), "hinge-plugin")
    run = tmp_path / "run"
    result = gan("run", *RING, "--loss", "hinge", "--margin", "0.5", "--out", run)
    assert result.exit_code == 0, result.output
    cfg = tomllib.loads((run / "config.toml").read_text())
    assert cfg["loss"] == "hinge"
    assert cfg["options"]["margin"] == 0.5  # the flag beats the recommendation
    assert cfg["n_critic"] == 2 and cfg["lr_d"] == 4e-4  # recommended, not set by the user
    listing = gan("plugins").output
    assert "hinge-plugin" in listing and "loss:hinge" in listing


def test_recommendations_lose_to_explicit_settings(builtin_plugins_only, register_plugin):
    register_plugin(HingePlugin(), "hinge-plugin")
    registry = plugins.get_registry()
    resolved = config.resolve(registry, {"loss": "hinge", "n_critic": 3}, {})
    assert (resolved.n_critic, resolved.lr_d, resolved.options["margin"]) == (3, 4e-4, 2.0)
    plain = config.resolve(registry, {"loss": "vanilla"}, {})
    assert (plain.n_critic, plain.lr_d) == (1, 2e-4) and "margin" not in plain.options


def test_config_file_is_overridden_by_flags(tmp_path):
    cfg_file = tmp_path / "exp.toml"
    cfg_file.write_text('dataset = "ring8"\nlr_d = 0.001\nlr_g = 0.003\n[options]\ntoy_width = 32\n')
    run = tmp_path / "run"
    flags = ["--lr-d", "0.002", "--steps", "5", "--device", "cpu"]
    result = gan("run", "--config", cfg_file, *flags, "--out", run)
    assert result.exit_code == 0, result.output
    cfg = tomllib.loads((run / "config.toml").read_text())
    assert (cfg["lr_d"], cfg["lr_g"], cfg["options"]["toy_width"]) == (0.002, 0.003, 32)
    # a run's own config.toml is a valid --config: the same settings again
    again = tmp_path / "again"
    assert gan("run", "--config", run / "config.toml", "--out", again).exit_code == 0
    assert (again / "config.toml").read_text() == (run / "config.toml").read_text()


def test_two_plugins_claiming_one_name_are_both_named(tmp_path, register_plugin):
    register_plugin(ClashingPlugin(), "copycat")
    result = gan("run", *RING, "--out", tmp_path / "run")
    assert result.exit_code == 2
    expected = "loss 'vanilla' is provided by 2 plugins; choose one of builtin:vanilla, copycat:vanilla"
    assert expected in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_an_exception_inside_a_plugin_names_the_plugin(tmp_path, builtin_plugins_only, register_plugin):
    register_plugin(HingePlugin(), "hinge-plugin")
    result = gan("run", *RING, "--loss", "broken", "--out", tmp_path / "run")
    assert result.exit_code == 1
    assert "plugin 'hinge-plugin' raised: ValueError: the critic loss is not implemented yet" in result.output
    assert "Traceback" not in result.output


def test_an_exception_in_a_hook_fails_only_that_plugin(register_plugin):
    register_plugin(FailingHookPlugin(), "flaky")
    result = gan("plugins")
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("flaky"))
    assert "failed" in line and "hook gancore_samplers raised RuntimeError: cannot list samplers" in line
    assert "loss:vanilla" in result.output  # the built-ins are still listed


def test_show_lists_a_components_options():
    result = gan("plugins", "show", "vanilla")
    assert result.exit_code == 0 and "--saturating" in result.output and "builtin" in result.output
    result = gan("plugins", "show", "vanila")
    assert result.exit_code == 2 and "did you mean 'vanilla'" in result.output


def _make_distribution(site, name="gan-hinge2", module="gan_hinge2_plugin", loss="hinge2"):
    site.mkdir(exist_ok=True)
    (site / f"{module}.py").write_text(
        textwrap.dedent(f"""
        import attrs
        from gancore.components import Loss
        from gancore.plugins import hookimpl

        @attrs.define
        class Hinge2(Loss):
            name = "{loss}"
            def critic_loss(self, r, f):
                return (1 - r).clamp_min(0).mean() + (1 + f).clamp_min(0).mean()
            def generator_loss(self, f):
                return -f.mean()

        @hookimpl
        def gancore_losses():
            return [Hinge2]
        """)
    )
    dist_info = site / f"{name.replace('-', '_')}-0.3.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.3\n")
    (dist_info / "entry_points.txt").write_text(f"[gancore]\nhinge2 = {module}\n")


def test_an_entry_point_plugin_is_listed_and_usable(tmp_path, monkeypatch, fresh_plugin_manager):
    site = tmp_path / "site"
    _make_distribution(site)
    monkeypatch.syspath_prepend(str(site))
    listing = gan("plugins")
    assert listing.exit_code == 0
    line = next(x for x in listing.output.splitlines() if x.startswith("hinge2"))
    assert "0.3" in line and "gan-hinge2" in line and "loss:hinge2" in line
    result = gan("run", *RING, "--loss", "hinge2", "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert tomllib.loads((tmp_path / "run" / "config.toml").read_text())["plugins"]["hinge2"] == "0.3"


def test_a_qualifier_may_name_the_distribution_or_the_entry_point(
    tmp_path, monkeypatch, fresh_plugin_manager
):
    site = tmp_path / "site"
    _make_distribution(site)  # distribution gan-hinge2, entry point hinge2: one rule for both names
    monkeypatch.syspath_prepend(str(site))
    for qualified in ("gan-hinge2:hinge2", "hinge2:hinge2"):
        assert "loss hinge2 (plugin hinge2)" in gan("plugins", "show", qualified).output
        result = gan("run", *RING, "--loss", qualified, "--steps", "5", "--out", tmp_path / qualified[:4])
        assert result.exit_code == 0, result.output
    monkeypatch.setenv("GANCORE_PLUGINS", "gan-hinge2")  # GANCORE_PLUGINS takes either as well
    assert "loss:hinge2" in gan("plugins").output


def test_gancore_plugins_limits_which_entry_points_load(tmp_path, monkeypatch, fresh_plugin_manager):
    site = tmp_path / "site"
    _make_distribution(site)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("GANCORE_PLUGINS", "")
    assert "hinge2" not in gan("plugins").output
    assert "unknown loss 'hinge2'" in gan("run", *RING, "--loss", "hinge2", "--out", tmp_path / "r").output


def test_tracing_writes_hook_calls_to_stderr(monkeypatch, fresh_plugin_manager, capfd):
    monkeypatch.setenv("GANCORE_TRACE", "1")
    plugins.get_registry()
    assert "gancore_losses [builtin] -> ['vanilla']" in capfd.readouterr().err


@pytest.mark.parametrize("bad", [object(), int])
def test_a_plugin_returning_something_else_is_named(register_plugin, bad):
    class Odd:
        @plugins.hookimpl
        def gancore_priors(self):
            return [bad]

    register_plugin(Odd(), "odd")
    registry = plugins.get_registry()
    assert "not a subclass of gancore.Prior" in registry.failed["odd"].reason
    assert registry.get("prior", "normal").plugin == "builtin"  # everything else works
