"""No broken plugin takes gancore down: failed plugins, qualified names, clashes, GANCORE_PLUGINS,
and plugin code that breaks its contract inside a step (one line naming the plugin, no run folder)."""

from __future__ import annotations

import tomllib
from typing import ClassVar

import attrs
import pytest
import torch

from gancore import plugins
from gancore.builtin.losses import Vanilla
from gancore.components import Loss, Regularizer, option
from tests.conftest import gan

RING = ["--dataset", "ring8", "--device", "cpu", "--steps", "5", "--batch-size", "64"]


def one_error_line(output: str) -> str:
    """The single line a failing command printed (warnings about failed plugins and the progress bar
    aside)."""
    lines = [x for x in output.strip().splitlines() if not x.startswith(("gancore: warning:", "epoch "))]
    assert len(lines) == 1, output
    assert lines[0].startswith("error: "), output
    return lines[0]


@attrs.define
class Untyped(Loss):
    """A loss whose option has no type annotation: no flag can be made for it."""

    name = "untyped"
    margin = option(1.0, help="a margin without a type")

    def critic_loss(self, real_out, fake_out):
        return real_out.mean()

    def generator_loss(self, fake_out):
        return fake_out.mean()


class UntypedPlugin:
    @plugins.hookimpl
    def gancore_losses(self):
        return [Untyped]


class CopycatPlugin:
    @plugins.hookimpl
    def gancore_losses(self):
        return [Vanilla]


def test_a_plugin_with_an_untyped_option_fails_alone(tmp_path, register_plugin):
    register_plugin(UntypedPlugin(), "untyped-plugin")
    listing = gan("plugins")
    assert listing.exit_code == 0, listing.output
    line = next(x for x in listing.output.splitlines() if x.startswith("untyped-plugin"))
    assert " failed " in line and "option 'margin' of loss 'untyped' has no type annotation" in line
    assert listing.output.count("gancore: warning: plugin 'untyped-plugin'") == 1
    assert gan("run", "--help").exit_code == 0
    assert gan("run", *RING, "--loss", "vanilla", "--out", tmp_path / "ok").exit_code == 0
    again = gan("plugins")  # warned once per process, not once per command
    assert "gancore: warning" not in again.output
    result = gan("run", *RING, "--loss", "untyped", "--out", tmp_path / "bad")
    assert result.exit_code == 2
    line = one_error_line(result.output)
    assert "loss 'untyped' cannot be used: plugin 'untyped-plugin' failed" in line and "'margin'" in line
    assert not (tmp_path / "bad").exists()


@attrs.define
class NoDefault(Loss):
    """A loss with an annotated option and no default: its flag would have no value to fall back on."""

    name = "no-default"
    margin: float

    def critic_loss(self, real_out, fake_out):
        return real_out.mean()

    def generator_loss(self, fake_out):
        return fake_out.mean()


class NoDefaultPlugin:
    @plugins.hookimpl
    def gancore_losses(self):
        return [NoDefault]


def test_an_option_without_a_default_fails_its_plugin_alone(tmp_path, register_plugin):
    register_plugin(NoDefaultPlugin(), "no-default-plugin")
    listing = gan("plugins")
    line = next(x for x in listing.output.splitlines() if x.startswith("no-default-plugin"))
    assert " failed " in line and "option 'margin' of loss 'no-default' has no default" in line
    assert "NOTHING" not in gan("run", "--help").output
    result = gan("run", *RING, "--loss", "no-default", "--out", tmp_path / "bad")
    assert result.exit_code == 2 and "plugin 'no-default-plugin' failed" in one_error_line(result.output)
    assert not (tmp_path / "bad").exists()


def test_show_says_why_a_failed_plugins_component_cannot_be_used(register_plugin):
    register_plugin(UntypedPlugin(), "untyped-plugin")
    result = gan("plugins", "show", "untyped")
    assert result.exit_code == 2 and "plugin 'untyped-plugin' failed" in one_error_line(result.output)


def test_qualified_names_select_a_component(tmp_path):
    run = tmp_path / "run"
    result = gan("run", *RING, "--loss", "builtin:vanilla", "--critic", "builtin:mlp", "--out", run)
    assert result.exit_code == 0, result.output
    cfg = tomllib.loads((run / "config.toml").read_text())
    assert (cfg["loss"], cfg["critic"], cfg["generator"]) == ("builtin:vanilla", "builtin:mlp", "toy")
    assert gan("run", "--resume", run, "--steps", "8").exit_code == 0  # the recorded names resolve again
    for name in ("builtin:vanilla", "loss:vanilla"):
        shown = gan("plugins", "show", name)
        assert shown.exit_code == 0 and "--saturating" in shown.output
    unknown = gan("run", *RING, "--loss", "nosuch:vanilla", "--out", tmp_path / "x")
    assert unknown.exit_code == 2 and "did you mean 'builtin:vanilla'" in one_error_line(unknown.output)


def test_a_clash_with_a_builtin_fails_only_when_the_bare_name_is_selected(tmp_path, register_plugin):
    register_plugin(CopycatPlugin(), "x")
    clash = gan("run", *RING, "--loss", "vanilla", "--out", tmp_path / "bare")
    assert clash.exit_code == 2
    line = one_error_line(clash.output)
    assert "loss 'vanilla' is provided by 2 plugins; choose one of builtin:vanilla, x:vanilla" in line
    assert not (tmp_path / "bare").exists()
    for name in ("builtin:vanilla", "x:vanilla"):
        result = gan("run", *RING, "--loss", name, "--out", tmp_path / name.replace(":", "-"))
        assert result.exit_code == 0, result.output
    assert gan("plugins").exit_code == 0 and gan("run", "--help").exit_code == 0
    shown = gan("plugins", "show", "vanilla")
    assert "builtin:vanilla" in shown.output and "x:vanilla" in shown.output


def test_a_run_resumes_when_a_plugin_installed_later_claims_its_names(tmp_path, register_plugin):
    run = tmp_path / "run"
    assert gan("run", *RING, "--out", run).exit_code == 0  # loss "vanilla", unambiguous then
    register_plugin(CopycatPlugin(), "x")
    result = gan("run", "--resume", run, "--steps", "8")  # its config.toml records builtin, not x
    assert result.exit_code == 0, result.output
    assert gan("sample", run, "-n", "10", "--out", tmp_path / "s.npz", "--device", "cpu").exit_code == 0


def test_an_unknown_name_in_gancore_plugins_is_an_error(monkeypatch, fresh_plugin_manager):
    monkeypatch.setenv("GANCORE_PLUGINS", "gan-wgan,nosuch")
    result = gan("plugins")
    assert result.exit_code == 2
    line = one_error_line(result.output)
    assert "GANCORE_PLUGINS names 'nosuch', which is not an installed gancore plugin" in line
    monkeypatch.setenv("GANCORE_PLUGINS", "builtin,gan-wgan")
    assert gan("plugins").exit_code == 0


@attrs.define
class PerSampleUndeclared(Loss):
    """Returns one value per sample without saying so (per_sample stays False)."""

    name = "wide"

    def critic_loss(self, real_out, fake_out):
        return torch.nn.functional.softplus(-real_out) + torch.nn.functional.softplus(fake_out)

    def generator_loss(self, fake_out):
        return torch.nn.functional.softplus(-fake_out)


@attrs.define
class NotATensor(Loss):
    name = "not-a-tensor"

    def critic_loss(self, real_out, fake_out):
        return 0.5

    def generator_loss(self, fake_out):
        return fake_out.mean()


@attrs.define
class ScalarButPerSample(Loss):
    name = "scalar-per-sample"
    per_sample: ClassVar[bool] = True

    def critic_loss(self, real_out, fake_out):
        return real_out.mean() - fake_out.mean()

    def generator_loss(self, fake_out):
        return -fake_out.mean()


@attrs.define
class WideTerm(Regularizer):
    name = "wide-term"
    wide_weight: float = option(1.0, help="weight")

    def critic_term(self, ctx):
        return self.wide_weight * ctx.real_out**2  # shape (n,): forgot the mean


class SloppyPlugin:
    @plugins.hookimpl
    def gancore_losses(self):
        return [PerSampleUndeclared, NotATensor, ScalarButPerSample]

    @plugins.hookimpl
    def gancore_regularizers(self):
        return [WideTerm]


@pytest.mark.parametrize(
    "args, expected",
    [
        (
            ["--loss", "wide"],
            "plugin 'sloppy': loss 'wide' critic_loss returned a float32 tensor (shape (64,)); expected a"
            " scalar; return .mean(), or declare per_sample = True",
        ),
        (
            ["--loss", "not-a-tensor"],
            "plugin 'sloppy': loss 'not-a-tensor' critic_loss returned a float (0.5), not a tensor",
        ),
        (
            ["--loss", "scalar-per-sample"],
            "plugin 'sloppy': loss 'scalar-per-sample' critic_loss returned a float32 tensor (a scalar);"
            " expected one value per sample, shape (64,)",
        ),
        (
            ["--reg", "wide-term"],
            "plugin 'sloppy': regularizer 'wide-term' critic_term returned a float32 tensor (shape (64,));"
            " expected a scalar tensor",
        ),
    ],
)
def test_a_contract_broken_inside_a_step_names_the_plugin_and_leaves_no_run(
    tmp_path, register_plugin, args, expected
):
    register_plugin(SloppyPlugin(), "sloppy")
    run = tmp_path / "runs" / "run"
    result = gan("run", *RING, *args, "--out", run)
    assert result.exit_code == 2
    assert expected in one_error_line(result.output)
    assert "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()  # the folders the run made are gone, parents included


def test_an_existing_empty_out_folder_is_kept_but_emptied(tmp_path, register_plugin):
    register_plugin(SloppyPlugin(), "sloppy")
    run = tmp_path / "run"
    run.mkdir()
    result = gan("run", *RING, "--loss", "wide", "--out", run)
    assert result.exit_code == 2
    assert run.is_dir() and list(run.iterdir()) == []


def test_failing_after_the_first_step_keeps_the_run(tmp_path, register_plugin):
    @attrs.define
    class LateFailure(Regularizer):
        name = "late"

        def critic_term(self, ctx):
            if ctx.step >= 3:
                raise RuntimeError("late failure")
            return None

    class LatePlugin:
        @plugins.hookimpl
        def gancore_regularizers(self):
            return [LateFailure]

    register_plugin(LatePlugin(), "late-plugin")
    run = tmp_path / "run"
    result = gan("run", *RING, "--reg", "late", "--out", run)
    assert result.exit_code == 1 and "plugin 'late-plugin' raised" in result.output
    assert (run / "config.toml").is_file()


@attrs.define
class NeedsHelper(Loss):
    """A loss that works only beside a regularizer of its plugin (as ADA's parts need each other)."""

    name = "needs-helper"
    requires: ClassVar[dict] = {"regs": ("helper",)}

    def critic_loss(self, real_out, fake_out):
        return fake_out.mean() - real_out.mean()

    def generator_loss(self, fake_out):
        return -fake_out.mean()


@attrs.define
class Helper(Regularizer):
    name = "helper"


class NeedyPlugin:
    @plugins.hookimpl
    def gancore_losses(self):
        return [NeedsHelper]

    @plugins.hookimpl
    def gancore_regularizers(self):
        return [Helper]


def test_a_required_companion_missing_is_one_line(tmp_path, register_plugin):
    register_plugin(NeedyPlugin(), "needy")
    result = gan("run", *RING, "--loss", "needs-helper", "--out", tmp_path / "alone")
    assert result.exit_code == 2
    assert one_error_line(result.output) == (
        "error: loss 'needs-helper' works only with regularizer 'helper'; add --reg helper"
    )
    assert not (tmp_path / "alone").exists()
    result = gan("run", *RING, "--loss", "needs-helper", "--reg", "needy:helper", "--out", tmp_path / "both")
    assert result.exit_code == 0, result.output
