"""`gan run`'s flags: the components' options are real, typed flags listed per component, made only
for `run`; every flag of the run itself reaches the run's config."""

from __future__ import annotations

from types import SimpleNamespace
from typing import ClassVar

import attrs
import pytest

from gancore import (
    Augmentation,
    Callback,
    CriticStep,
    LipschitzMonitor,
    Loss,
    LRSchedule,
    Network,
    Prior,
    Regularizer,
    Sampler,
    SampleWeighting,
    hookimpl,
    option,
)
from gancore import config as cfg
from tests.conftest import gan

RING = ["--dataset", "ring8", "--device", "cpu"]


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[cfg.RunConfig]:
    """`gan run` resolves its settings but trains nothing: the configs it would start, in order."""
    from gancore.train import runs

    configs: list[cfg.RunConfig] = []

    def start(settings: cfg.RunConfig, folder, *rest):
        configs.append(settings)
        return SimpleNamespace(run=SimpleNamespace(path=folder), last_saved=0)

    monkeypatch.setattr(runs, "start", start)
    return configs


def _panel_of(output: str, flag: str) -> tuple[str, list[str]]:
    """(title, flag lines) of the help panel that lists ``flag``; it must be listed exactly once."""
    lines = output.splitlines()
    rows = [i for i, line in enumerate(lines) if line.startswith(f"│ {flag} ")]
    assert len(rows) == 1, f"{flag} listed {len(rows)} times"
    top = max(i for i in range(rows[0]) if lines[i].startswith("╭─"))
    bottom = next(i for i in range(rows[0], len(lines)) if lines[i].startswith("╰"))
    return lines[top].strip("╭─╮ "), lines[top + 1 : bottom]


@pytest.mark.usefixtures("builtin_plugins_only")  # the panels name the owners: which ones, is the point
def test_help_lists_component_flags_under_their_component():
    result = gan("run", "--help")
    assert result.exit_code == 0, result.output
    title, _ = _panel_of(result.output, "--dropout")
    assert title == "Options of critic conv / conv-002 / mlp"  # one flag for the critics' dropout
    title, rows = _panel_of(result.output, "--saturating")
    assert title.startswith("Options of loss") and title.endswith("vanilla")
    assert "--no-saturating" in rows[0] and "(default off)" in " ".join(rows)
    title, rows = _panel_of(result.output, "--toy-width")
    assert title == "Options of generator toy, critic toy" and "(default 128)" in rows[0]


def test_component_flags_are_made_only_for_the_commands_that_take_them(monkeypatch):
    from gancore import plugins

    calls = []
    real = plugins.get_registry
    monkeypatch.setattr(plugins, "get_registry", lambda: calls.append(1) or real())
    assert gan("--help").exit_code == 0 and gan("plot", "--help").exit_code == 0
    assert not calls  # neither the app's help nor another command loads the plugins for run's flags
    assert gan("run", "--help").exit_code == 0 and calls
    calls.clear()
    assert gan("sample", "--help").exit_code == 0 and calls  # the samplers' flags


@attrs.define
class WideCritic(Network):
    """A critic whose dropout counts dropped layers: an int where the built-in critics' is a float."""

    name = "wide"
    dropout: int = option(1, help="hidden layers dropped")


class IntDropoutPlugin:
    @hookimpl
    def gancore_critics(self):
        return [WideCritic]


@attrs.define
class SeededPrior(Prior):
    """A prior with an option called like one of `gan run`'s own flags."""

    name = "seeded"
    seed: int = option(0, help="the prior's own seed")


class SeededPlugin:
    @hookimpl
    def gancore_priors(self):
        return [SeededPrior]


@pytest.mark.parametrize("args", [["--help"], [*RING, "--steps", "5"]])
def test_one_option_name_with_two_types_is_refused(register_plugin, args):
    register_plugin(IntDropoutPlugin(), "int-dropout")
    result = gan("run", *args)
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [
        "error: option --dropout has two types: float in critic 'conv' (plugin 'builtin'), int in"
        " critic 'wide' (plugin 'int-dropout'); one of them must rename it"
    ]


def test_an_option_clashing_with_runs_own_flag_is_refused(register_plugin):
    register_plugin(SeededPlugin(), "seeded")
    result = gan("run", "--help")
    assert result.exit_code == 2
    expected = "option --seed of prior 'seeded' (plugin 'seeded') is also a flag of gan run itself"
    assert expected in result.output


@pytest.mark.usefixtures("builtin_plugins_only")  # the lines name the owners of --dropout
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dropout", "abc"], "error: Invalid value for '--dropout'"),
        (["--toy-width", "1.5"], "error: Invalid value for '--toy-width'"),
        (["--saturating=yes"], "error: Option '--saturating' does not take a value."),
        (["--dropuot", "0.3"], "error: no such option --dropuot; did you mean --dropout?"),
        (["--dropout", "0.3"], "error: --dropout is an option of critic 'conv', critic 'conv-002'"),
        (["stray"], "error: unexpected argument 'stray'"),
    ],
)
def test_bad_component_flags_are_one_line(tmp_path, args, message):
    result = gan("run", *RING, "--steps", "5", *args, "--out", tmp_path / "run")
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and result.output.startswith(message), result.output
    assert not (tmp_path / "run").exists()


def test_no_such_option_says_where_options_are_listed():
    assert "`gan plugins show NAME`" in gan("run", "--dropuot", "0.3").output


def test_resume_refuses_component_flags(tmp_path):
    result = gan("run", "--resume", tmp_path / "nowhere", "--no-saturating")
    assert result.exit_code == 2
    assert "--resume continues a run as configured; drop --config, --out and component flags" in result.output


def test_bool_flag_its_no_form_and_precedence_over_config(tmp_path, started):
    config = tmp_path / "config.toml"
    config.write_text('loss = "vanilla"\n[options]\nsaturating = "yes"\n')  # a file's value is coerced
    for args, expected in [
        ([], False),
        (["--saturating"], True),
        (["--config", config], True),
        (["--config", config, "--no-saturating"], False),
    ]:
        assert gan("run", *args, "--out", tmp_path / "run").exit_code == 0
        assert started[-1].options["saturating"] is expected, args


@attrs.define
class Recommending(Loss):
    name = "recommending"
    recommends: ClassVar[dict] = {"options": {"toy_width": 16}}


class RecommendingPlugin:
    @hookimpl
    def gancore_losses(self):
        return [Recommending]


def test_a_flag_wins_over_a_recommendation_and_a_config_file(tmp_path, started, register_plugin):
    register_plugin(RecommendingPlugin(), "recommending")
    config = tmp_path / "config.toml"
    config.write_text("[options]\ntoy_width = 64\n")
    ring = [*RING, "--loss", "recommending", "--out", tmp_path / "run"]
    cases = [([], 16), (["--config", config], 64), (["--config", config, "--toy-width", "32"], 32)]
    for args, expected in cases:
        assert gan("run", *ring, *args).exit_code == 0
        assert started[-1].options["toy_width"] == expected, args


def _stub(base: type) -> type:
    return type(f"Stub{base.__name__}", (base,), {"name": "stub"})


class StubPlugin:
    """One component named "stub" of every kind the built-in plugin has no second name for."""

    @hookimpl
    def gancore_losses(self):
        return [_stub(Loss)]

    @hookimpl
    def gancore_regularizers(self):
        return [_stub(Regularizer)]

    @hookimpl
    def gancore_critic_steps(self):
        return [_stub(CriticStep)]

    @hookimpl
    def gancore_lipschitz_monitors(self):
        return [_stub(LipschitzMonitor)]

    @hookimpl
    def gancore_samplers(self):
        return [_stub(Sampler)]

    @hookimpl
    def gancore_priors(self):
        return [_stub(Prior)]

    @hookimpl
    def gancore_augmentations(self):
        return [_stub(Augmentation)]

    @hookimpl
    def gancore_lr_schedules(self):
        return [_stub(LRSchedule)]

    @hookimpl
    def gancore_callbacks(self):
        return [_stub(Callback)]

    @hookimpl
    def gancore_sample_weightings(self):
        return [_stub(SampleWeighting)]


#: flag, its value (None: a bool flag), the config field it sets, the value expected there
EVERY_FLAG = [
    ("--loss", "stub", "loss", "stub"),
    ("--critic", "conv", "critic", "conv"),
    ("--generator", "toy", "generator", "toy"),
    ("--reg", "stub", "regs", ("stub",)),
    ("--critic-step", "stub", "critic_step", "stub"),
    ("--monitor", "stub", "monitors", ("stub",)),
    ("--augment", "stub", "augment", ("stub",)),
    ("--schedule", "toy_width=+1/2ep", "schedules", ("toy_width=+1/2ep",)),
    ("--sampler", "stub", "sampler", "stub"),
    ("--prior", "stub", "prior", "stub"),
    ("--dataset", "ring8", "dataset", "ring8"),
    ("--data-dir", "elsewhere", "data_dir", "elsewhere"),
    ("--latent-dim", "7", "latent_dim", 7),
    ("--epochs", "3", "epochs", 3),
    ("--steps", "9", "steps", 9),
    ("--batch-size", "5", "batch_size", 5),
    ("--optimizer", "sgd", "optimizer", "sgd"),
    ("--lr-g", "0.5", "lr_g", 0.5),
    ("--lr-d", "0.25", "lr_d", 0.25),
    ("--beta1", "0.125", "beta1", 0.125),
    ("--beta2", "0.75", "beta2", 0.75),
    ("--weight-decay-d", "0.01", "weight_decay_d", 0.01),
    ("--clip-grad", "2", "clip_grad", 2.0),
    ("--n-critic", "4", "n_critic", 4),
    ("--n-gen", "2", "n_gen", 2),
    ("--lr-schedule", "stub", "lr_schedule", "stub"),
    ("--callback", "stub", "callbacks", ("stub",)),
    ("--weighting", "stub", "weightings", ("stub",)),
    ("--init-from", "other-run", "init_from", "other-run"),
    ("--precision", "bf16", "precision", "bf16"),
    ("--compile", None, "compile", True),
    ("--cuda-graphs", None, "cuda_graphs", True),
    ("--seed", "11", "seed", 11),
    ("--device", "cpu", "device", "cpu"),
    ("--log-every", "13", "log_every", 13),
    ("--ckpt-every", "17", "ckpt_every", 17),
    ("--eval-every", "19", "eval_every", 19),
    ("--eval-samples", "23", "eval_samples", 23),
    ("--threads", "2", "threads", 2),
]


def test_every_flag_of_run_reaches_the_config(tmp_path, started, register_plugin):
    # processes is no flag: the run records how many torchrun processes trained it
    assert {field for _, _, field, _ in EVERY_FLAG} == set(cfg.FIELDS) - {"options", "processes"}
    register_plugin(StubPlugin(), "stubs")
    args = [a for flag, value, _, _ in EVERY_FLAG for a in (flag, value) if a is not None]
    result = gan("run", *args, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    config = started[-1]
    for flag, _, field, expected in EVERY_FLAG:
        assert getattr(config, field) == expected, flag
        assert getattr(config, field) != cfg.FIELDS[field].default, f"{flag}: pick a value that is no default"
