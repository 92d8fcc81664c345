"""The run configuration: validated settings, how flags, files and plugin recommendations combine.

Precedence, lowest first: the defaults below, the recommendations of the selected components
(``Loss.recommends`` ...), the ``--config`` file, the command-line flags. The result, every option
of every selected component included, is written to the run's config.toml, which ``--config`` can
read back to repeat the run.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs
import tomli_w
import torch

from gancore.components import OptionSpec
from gancore.errors import ConfigError, PluginError
from gancore.plugins import QUALIFIER, Entry, Registry

#: ``init_from = "experiment:NAME"`` in a sweep's config: the run of experiment NAME with the same seed
EXPERIMENT_REF = "experiment:"


#: the flag of each list setting: singular and repeated (``regs = ["gp"]`` is ``--reg gp``)
REPEATED_FLAGS = {"regs": "reg", "weightings": "weighting", "monitors": "monitor", "callbacks": "callback",
                  "schedules": "schedule"}  # fmt: skip


def _flag(attribute: attrs.Attribute) -> str:
    """The key as a flag: the TOML key ``lr_d`` is the flag ``--lr-d``; ``regs`` is ``regs (--reg)``."""
    if attribute.name in REPEATED_FLAGS:
        return f"{attribute.name} (--{REPEATED_FLAGS[attribute.name]})"
    return "--" + attribute.name.replace("_", "-")


def _number(kind: type, rule: str, test: Any) -> Any:
    """A validator: ``value`` is a ``kind`` (a float key also takes an int; never a bool) and passes
    ``test``; else one line naming the key, the value and what is allowed."""

    def check(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        numeric = (int, float) if kind is float else (int,)
        if not isinstance(value, numeric) or isinstance(value, bool):
            what = f"a number ({rule})" if kind is float else rule  # an int's rule says "whole number"
            raise ValueError(f"{_flag(attribute)} must be {what}, got {value!r}")
        # NaN passes no comparison and inf makes every update non-finite: neither is a setting
        if kind is float and not math.isfinite(value):
            raise ValueError(f"{_flag(attribute)} must be a finite number ({rule}), got {value!r}")
        if not test(value):
            raise ValueError(f"{_flag(attribute)} must be {rule}, got {value!r}")

    return check


_positive_int = _number(int, "a positive whole number", lambda x: x > 0)
_non_negative_int = _number(int, "a whole number >= 0", lambda x: x >= 0)
_positive = _number(float, "positive", lambda x: x > 0)
_non_negative = _number(float, ">= 0", lambda x: x >= 0)
_beta = _number(float, "in [0, 1)", lambda x: 0 <= x < 1)
#: torch, numpy and Python's random all take a seed in [0, 2**32): one range that fits them all
SEED_LIMIT = 2**32
_seed = _number(int, f"a whole number in [0, {SEED_LIMIT - 1}]", lambda x: 0 <= x < SEED_LIMIT)


def _text(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, str):
        raise ValueError(f"{_flag(attribute)} must be a text (a name), got {value!r}")


def _switch(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    # strictly a bool: the TOML string "no" must never turn a switch on
    if not isinstance(value, bool):
        raise ValueError(f"{_flag(attribute)} must be true or false, got {value!r}")


def _device(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    _text(instance, attribute, value)
    if value == "auto":
        return
    try:
        torch.device(value)
    except RuntimeError:
        raise ValueError(f"unknown device {value!r}; use auto, cpu, cuda, cuda:N or mps") from None


def _one_of(*choices: str):
    def check(instance: Any, attribute: attrs.Attribute, value: str) -> None:
        if not isinstance(value, str) or value not in choices:
            raise ValueError(f"{_flag(attribute)} must be one of {', '.join(choices)}; got {value!r}")

    return check


def _names_tuple(value: Any) -> Any:
    """A list of names; one name alone (``regs = "gp"``) is a list of one, not of its letters."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(value)
    return value  # refused by _names with the key named


def _names(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, tuple) or not all(isinstance(n, str) for n in value):
        raise ValueError(f"{_flag(attribute)} must be a list of names, got {value!r}")
    # a component is applied once: a second mention would be recorded but do nothing
    repeated = [n for i, n in enumerate(value) if n in value[:i]]
    if repeated:
        flag = "--" + REPEATED_FLAGS.get(attribute.name, attribute.name).replace("_", "-")
        raise ValueError(f"{flag} {repeated[0]} is given twice; name each component once")


def _options(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ValueError(
            f"options must be a table of component options ([options] in TOML, e.g. dropout = 0.3),"
            f" got {value!r}"
        )


def setting(default: Any, validator: Any, help: str, default_text: str | None = None) -> Any:
    """A run setting: a field of ``RunConfig`` and, with its help, a flag of `gan run` (generated
    from these fields, so that the flag's help, type and default cannot drift from the setting).
    ``default_text``: how --help shows the default, where the value alone would not say it."""
    return attrs.field(
        default=default, validator=validator, metadata={"help": help, "default_text": default_text}
    )


def _str(default: str, help: str, default_text: str | None = None) -> Any:
    return setting(default, _text, help, default_text)


def _tuple(help: str) -> Any:
    return attrs.field(
        factory=tuple, converter=_names_tuple, validator=_names, metadata={"help": help, "default_text": None}
    )


@attrs.frozen(kw_only=True)
class RunConfig:
    """Every setting of a training run. Field names are the TOML keys and the flags (``_`` -> ``-``;
    a list's flag is repeated and singular: ``regs`` is ``--reg``)."""

    # the pipeline, by component name
    dataset: str = _str("mnist", "training data")
    loss: str = _str("vanilla", "adversarial loss")
    generator: str = _str("mlp", "generator network")
    critic: str = _str("mlp", "critic network")
    critic_step: str = _str("plain", "how the critic is stepped")
    regs: tuple[str, ...] = _tuple("regularizer (repeatable)")
    weightings: tuple[str, ...] = _tuple("per-sample loss weighting, e.g. top-k (repeatable)")
    monitors: tuple[str, ...] = _tuple("Lipschitz monitor (repeatable)")
    callbacks: tuple[str, ...] = _tuple("callback, e.g. an EMA of G (repeatable)")
    augment: tuple[str, ...] = _tuple("augmentations of critic inputs, comma-separated")
    schedules: tuple[str, ...] = _tuple("OPTION=+DELTA/Nep: change a component option every N epochs")
    prior: str = _str("normal", "latent prior")
    sampler: str = _str("plain", "sampler for grids, sample and eval")
    # data and length
    data_dir: str = _str("", "dataset root", "$GANCORE_DATA or ~/.cache/gancore")
    latent_dim: int = setting(100, _positive_int, "latent size")
    batch_size: int = setting(
        64, _positive_int, "global batch size; under torchrun N processes take 1/N of it each"
    )
    #: how many processes (torchrun ranks) trained the run; set by the run itself when it starts (0:
    #: not yet), not a flag; a config file that gives another number than the run has is refused
    processes: int = setting(0, _non_negative_int, "processes that train the run (set by the run itself)")
    epochs: int = setting(4, _non_negative_int, "passes over the data")  # the main job's length
    steps: int = setting(0, _non_negative_int, "generator steps; overrides --epochs when > 0")
    # optimisation
    optimizer: str = setting("adam", _one_of("adam", "rmsprop", "sgd"), "adam, rmsprop or sgd")
    lr_g: float = setting(2e-4, _positive, "generator learning rate")
    lr_d: float = setting(2e-4, _positive, "critic learning rate")
    beta1: float = setting(0.5, _beta, "Adam beta1")
    beta2: float = setting(0.999, _beta, "Adam beta2")
    weight_decay_d: float = setting(0.0, _non_negative, "weight decay on the critic only", "0")
    clip_grad: float = setting(0.0, _non_negative, "clip both networks' gradient norm", "0: off")
    n_critic: int = setting(1, _positive_int, "critic steps per generator step")
    n_gen: int = setting(1, _positive_int, "generator steps per iteration")
    lr_schedule: str = _str("constant", "how the learning rates change over epochs")
    init_from: str = _str("", "warm start both networks from a run or checkpoint")
    precision: str = setting(
        "tf32", _one_of("fp32", "tf32", "bf16"), "fp32, tf32 (TF32 matmuls on CUDA) or bf16 autocast"
    )
    compile: bool = setting(False, _switch, "torch.compile the generator and critic passes")
    cuda_graphs: bool = setting(False, _switch, "replay each step as a CUDA graph (CUDA only)")
    # bookkeeping
    seed: int = setting(0, _seed, "random seed", "0")
    device: str = setting("auto", _device, "auto, cpu, cuda, cuda:N")
    # CPU threads of training; 0: $GANCORE_THREADS, else torch's count (one per core)
    threads: int = setting(0, _non_negative_int, "CPU threads", "$GANCORE_THREADS, else one per core")
    log_every: int = setting(50, _positive_int, "steps between metrics rows")
    ckpt_every: int = setting(0, _non_negative_int, "also keep a numbered checkpoint every N steps")
    eval_every: int = setting(
        0, _non_negative_int, "evaluate (the dataset's metrics) every N epochs into metrics.jsonl"
    )
    eval_samples: int = setting(10_000, _positive_int, "samples per evaluation")
    options: dict[str, Any] = attrs.field(factory=dict, validator=_options)

    def to_toml(self, plugins: dict[str, str] | None = None) -> str:
        data = attrs.asdict(self, recurse=False)
        data = {k: list(val) if isinstance(val, tuple) else val for k, val in data.items()}
        if plugins:
            data["plugins"] = plugins
        return tomli_w.dumps(data)


FIELDS = {f.name: f for f in attrs.fields(RunConfig)}
LIST_KEYS = ("regs", "weightings", "monitors", "callbacks", "augment", "schedules")
IGNORED_FILE_KEYS = ("plugins",)  # informational tables a run's own config.toml carries
#: (config key, registry kind) in the order their recommendations are applied
SELECTIONS = (
    ("dataset", "dataset"),
    ("loss", "loss"),
    ("critic_step", "critic_step"),
    ("regs", "regularizer"),
    ("weightings", "weighting"),
    ("monitors", "monitor"),
    ("callbacks", "callback"),
    ("augment", "augmentation"),
    ("lr_schedule", "lr_schedule"),
    ("sampler", "sampler"),
    ("prior", "prior"),
    ("generator", "generator"),
    ("critic", "critic"),
)


_KIND_OF = dict(SELECTIONS)


def make_config(**settings: Any) -> RunConfig:
    """``RunConfig(**settings)``, with a bad value reported as one ConfigError line."""
    unknown = sorted(set(settings) - set(FIELDS))
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]!r}; known: {', '.join(FIELDS)}")
    try:
        return RunConfig(**settings)
    except (ValueError, TypeError) as exc:
        raise ConfigError(str(exc)) from None


def read_toml(path: Path) -> dict[str, Any]:
    """A config file as a dict of known settings; a bad file is one ConfigError line."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(
            f"config file {path} is a folder; give a .toml file (e.g. {path}/NAME.toml)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    return settings_from(data, path)


def settings_from(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """The known settings of a config file's parsed ``data``, each checked (``path`` names it)."""
    data = dict(data)
    for key in IGNORED_FILE_KEYS:
        data.pop(key, None)
    _read_legacy_keys(data)
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} in {path}; known keys: {', '.join(FIELDS)}")
    try:
        make_config(**data)  # every value's type and range, before anything uses the file
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return data


def recorded_plugins(path: Path) -> list[str]:
    """The plugins a run was made with: the names in its config.toml's ``[plugins]`` table."""
    try:
        table = tomllib.loads(path.read_text()).get("plugins", {})
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return []
    return list(table) if isinstance(table, dict) else []


def plugin_differences(path: Path) -> list[str]:
    """A line for each plugin that ``path``'s ``[plugins]`` table records at another version than the
    one installed, or that is not installed; a table that is not ``name = "version"`` is refused."""
    from gancore.plugins import plugin_infos

    try:
        table = tomllib.loads(path.read_text()).get("plugins", {})
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return []  # read_toml reports the file itself
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise ConfigError(f'[plugins] in {path} must be a table of plugin = "version", got {table!r}')
    installed = {info.name: info.version for info in plugin_infos()}
    lines = []
    for name, version in sorted(table.items()):
        if name not in installed:
            lines.append(f"{path} was written with plugin {name} {version}, which is not installed")
        elif installed[name] != version:
            lines.append(
                f"{path} was written with plugin {name} {version}; {installed[name]} is installed, and"
                " its results may differ"
            )
    return lines


def _read_legacy_keys(data: dict[str, Any]) -> None:
    """Files written before the learning-rate ramp became a component (2026-11-25) stay readable.

    ``lr_warmup = true`` was report 000's ramp, now ``lr_schedule = "decade-warmup"`` (gan-fgan), so
    runs recorded then can still be resumed and evaluated.
    """
    if data.pop("lr_warmup", False) is True:
        data.setdefault("lr_schedule", "decade-warmup")


def selected(settings: dict[str, Any] | RunConfig) -> list[tuple[str, str]]:
    """(kind, name) of every component a configuration selects."""
    get = settings.get if isinstance(settings, dict) else lambda k: getattr(settings, k)
    pairs = []
    for key, kind in SELECTIONS:
        value = get(key)
        for name in [value] if isinstance(value, str) else list(value):
            pairs.append((kind, name))
    return pairs


def refuse_zero_threads(given: dict[str, Any]) -> None:
    """``threads = 0`` given by a user: 0 is only the unset default (one thread per core)."""
    if given.get("threads") == 0:
        raise ConfigError(
            "--threads must be at least 1, got 0; leave it out for $GANCORE_THREADS or one thread per core"
        )


def resolve(registry: Registry, explicit: dict[str, Any], explicit_options: dict[str, Any]) -> RunConfig:
    """Defaults, then component recommendations, then what the user set explicitly."""
    refuse_zero_threads(explicit)
    make_config(**{**explicit, "options": explicit_options})  # types and ranges of what the user gave, first
    settings = {name: f.default for name, f in FIELDS.items() if f.default is not attrs.NOTHING}
    settings.update({k: [] for k in LIST_KEYS})
    settings.update({k: list(_names_tuple(v)) if k in LIST_KEYS else v for k, v in explicit.items()})
    recommended_options: dict[str, Any] = {}
    for key, kind in SELECTIONS:
        value = settings[key]
        for name in [value] if isinstance(value, str) else list(value):
            entry = registry.get(kind, name)
            for rec_key, rec_value in entry.cls.recommends.items():
                if rec_key == "options":
                    recommended_options.update(rec_value)
                elif rec_key not in FIELDS:
                    raise PluginError(
                        f"{kind} {name!r} (plugin {entry.plugin!r}) recommends unknown setting {rec_key!r}"
                    )
                elif rec_key in LIST_KEYS:
                    names = [_recommended_name(registry, rec_key, n, entry.plugin) for n in rec_value]
                    settings[rec_key] += _new_names(registry, rec_key, settings[rec_key], names)
                elif rec_key not in explicit:
                    settings[rec_key] = _recommended_name(registry, rec_key, rec_value, entry.plugin)
    settings["options"] = resolve_options(registry, selected(settings), recommended_options, explicit_options)
    return make_config(**settings)


def _recommended_name(registry: Registry, key: str, name: Any, plugin: str) -> Any:
    """A component name a plugin recommends means its own component where other plugins claim the
    name too (``gp`` from gan-wgan is gan-wgan's ``gp``); anything else passes unchanged."""
    kind = _KIND_OF.get(key)
    if kind is None or not isinstance(name, str) or QUALIFIER in name:
        return name
    entries = [e for e in registry.entries(kind) if e.name == name]
    own = [e for e in entries if e.plugin == plugin]
    return own[0].qualified if len(entries) > 1 and own else name


def _new_names(registry: Registry, key: str, current: list[str], names: list[str]) -> list[str]:
    """The recommended ``names`` not selected yet, whether selected by bare or qualified name."""

    def identity(name: str) -> str:
        kind = _KIND_OF.get(key)
        try:
            return registry.get(kind, name).qualified if kind else name
        except PluginError:
            return name

    have = {identity(n) for n in current}
    return [n for n in names if identity(n) not in have]


def options_by_name(entries: Iterable[Entry]) -> dict[str, list[tuple[Entry, OptionSpec]]]:
    """option name -> [(component, spec)] over ``entries``, in their order.

    A name shared by several components is one flag and one ``[options]`` key that sets them all
    (``--dropout`` for both critics), so it must have one type: a flag cannot parse as a float for
    one component and an int for another. Such a clash is refused, naming both components' plugins.
    """
    out: dict[str, list[tuple[Entry, OptionSpec]]] = {}
    for entry in entries:
        for spec in entry.cls.option_specs():
            owners = out.setdefault(spec.name, [])
            if owners and owners[0][1].type is not spec.type:
                first, first_spec = owners[0]
                raise PluginError(
                    f"option {spec.flag} has two types: {first_spec.type.__name__} in {describe(first)},"
                    f" {spec.type.__name__} in {describe(entry)}; one of them must rename it"
                )
            owners.append((entry, spec))
    return out


def describe(entry: Entry) -> str:
    """``critic 'mlp' (plugin 'builtin')``: a component as an error line names it."""
    return f"{entry.kind.replace('_', ' ')} {entry.name!r} (plugin {entry.plugin!r})"


def resolve_options(
    registry: Registry,
    pairs: list[tuple[str, str]],
    recommended: dict[str, Any],
    explicit: dict[str, Any],
) -> dict[str, Any]:
    """Every option of the selected components: explicit, else recommended, else its default."""
    specs = options_by_name(registry.get(kind, name) for kind, name in pairs)
    for key in explicit:
        if key not in specs:
            raise ConfigError(_unused_option_message(registry, key))
    resolved = {}
    for key, owners in sorted(specs.items()):
        spec = owners[0][1]
        if key in explicit:
            value = explicit[key]
        elif key in recommended:
            value = recommended[key]
        else:
            value = spec.default
        resolved[key] = coerce_option(spec, value)
    return resolved


def _unused_option_message(registry: Registry, key: str) -> str:
    flag = "--" + key.replace("_", "-")
    owners = [
        f"{e.kind.replace('_', ' ')} {e.name!r}"
        for e in registry.entries()
        if any(s.name == key for s in e.cls.option_specs())
    ]
    if owners:
        return f"{flag} is an option of {', '.join(owners)}, which this run does not use"
    return f"no such option {flag}; `gan plugins show NAME` lists a component's options"


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def coerce_option(spec: OptionSpec, value: Any) -> Any:
    """A flag's string (or a TOML value) converted to the option's declared type."""
    try:
        if spec.type is bool:
            if isinstance(value, bool):
                return value
            text = str(value).lower()
            if text in _TRUE | _FALSE:
                return text in _TRUE
            raise ValueError
        if spec.type in (int, float) and isinstance(value, bool):
            raise ValueError  # int(True) is 1: a TOML ``true`` is no number
        if spec.type is int and isinstance(value, float):
            raise ValueError
        if spec.type is str and not isinstance(value, str):
            raise ValueError  # str(5) would pass anything as a name
        converted = spec.type(value)
        if spec.type is float and not math.isfinite(converted):
            raise ValueError
        return converted
    except (TypeError, ValueError, OverflowError):
        what = "finite float" if spec.type is float else spec.type.__name__
        raise ConfigError(f"{spec.flag} expects a {what}, got {value!r}") from None


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; an unavailable device is one ConfigError line."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {name}: no CUDA device is available here; use --device cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) here")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"--device {name}: MPS is not available here; use --device cpu")
    return device
