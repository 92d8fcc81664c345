"""The run configuration: validated settings, how flags, files and plugin recommendations combine.

Precedence, lowest first: the defaults below, the recommendations of the selected components
(``Loss.recommends`` ...), the ``--config`` file, the command-line flags. The result, every option
of every selected component included, is written to the run's config.toml, which ``--config`` can
read back to repeat the run.
"""

from __future__ import annotations

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

v = attrs.validators

#: ``init_from = "experiment:NAME"`` in a sweep's config: the run of experiment NAME with the same seed
EXPERIMENT_REF = "experiment:"


def _positive(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not value > 0:
        raise ValueError(f"--{attribute.name.replace('_', '-')} must be positive, got {value}")


def _non_negative(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if value < 0:
        raise ValueError(f"--{attribute.name.replace('_', '-')} must be >= 0, got {value}")


def _beta(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not 0 <= value < 1:
        raise ValueError(f"--{attribute.name.replace('_', '-')} must be in [0, 1), got {value}")


def _device(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if value == "auto":
        return
    try:
        torch.device(value)
    except RuntimeError:
        raise ValueError(f"unknown device {value!r}; use auto, cpu, cuda, cuda:N or mps") from None


def _one_of(*choices: str):
    def check(instance: Any, attribute: attrs.Attribute, value: str) -> None:
        if value not in choices:
            flag = "--" + attribute.name.replace("_", "-")
            raise ValueError(f"{flag} must be one of {', '.join(choices)}; got {value!r}")

    return check


_names = v.deep_iterable(v.instance_of(str), v.instance_of(tuple))
_tuple = attrs.field(factory=tuple, converter=tuple, validator=_names)


@attrs.frozen(kw_only=True)
class RunConfig:
    """Every setting of a training run. Field names are the TOML keys and the flags (``_`` -> ``-``)."""

    # the pipeline, by component name
    dataset: str = "mnist"
    loss: str = "vanilla"
    generator: str = "mlp"
    critic: str = "mlp"
    critic_step: str = "plain"
    regs: tuple[str, ...] = _tuple
    weightings: tuple[str, ...] = _tuple  # per-sample weights on the losses (top-k ...)
    monitors: tuple[str, ...] = _tuple
    callbacks: tuple[str, ...] = _tuple  # called at fixed points of the run (EMA of the generator ...)
    augment: tuple[str, ...] = _tuple
    schedules: tuple[str, ...] = _tuple  # OPTION=+DELTA/Nep: per-epoch changes of component options
    prior: str = "normal"
    sampler: str = "plain"
    # data and length
    data_dir: str = ""
    latent_dim: int = attrs.field(default=100, validator=_positive)
    #: the global batch: under torchrun each of the ``processes`` takes batch_size / processes of it
    batch_size: int = attrs.field(default=64, validator=_positive)
    #: how many processes (torchrun ranks) trained the run; set by the run itself, not a flag
    processes: int = attrs.field(default=1, validator=_positive)
    epochs: int = attrs.field(default=10, validator=_non_negative)
    steps: int = attrs.field(default=0, validator=_non_negative)
    # optimisation
    optimizer: str = attrs.field(default="adam", validator=_one_of("adam", "rmsprop", "sgd"))
    lr_g: float = attrs.field(default=2e-4, validator=_positive)
    lr_d: float = attrs.field(default=2e-4, validator=_positive)
    beta1: float = attrs.field(default=0.5, validator=_beta)
    beta2: float = attrs.field(default=0.999, validator=_beta)
    weight_decay_d: float = attrs.field(default=0.0, validator=_non_negative)
    clip_grad: float = attrs.field(default=0.0, validator=_non_negative)
    n_critic: int = attrs.field(default=1, validator=_positive)
    n_gen: int = attrs.field(default=1, validator=_positive)
    lr_schedule: str = "constant"  # how the learning rates change over epochs (a component)
    init_from: str = ""  # warm start: a run folder (its last checkpoint) or a checkpoint file
    # fp32; tf32: fp32 with TF32 matmuls on CUDA (the same as fp32 on a CPU); bf16: bfloat16 autocast
    precision: str = attrs.field(default="tf32", validator=_one_of("fp32", "tf32", "bf16"))
    compile: bool = False  # torch.compile the engine's own generator and critic passes
    cuda_graphs: bool = False  # record each epoch's iteration once as a CUDA graph, then replay it
    # bookkeeping
    seed: int = 0
    device: str = attrs.field(default="auto", validator=_device)
    log_every: int = attrs.field(default=50, validator=_positive)
    ckpt_every: int = attrs.field(default=0, validator=_non_negative)
    eval_every: int = attrs.field(default=0, validator=_non_negative)  # epochs between evaluations
    eval_samples: int = attrs.field(default=10_000, validator=_positive)
    options: dict[str, Any] = attrs.field(factory=dict)

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
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    for key in IGNORED_FILE_KEYS:
        data.pop(key, None)
    _read_legacy_keys(data)
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} in {path}; known keys: {', '.join(FIELDS)}")
    return data


def recorded_plugins(path: Path) -> list[str]:
    """The plugins a run was made with: the names in its config.toml's ``[plugins]`` table."""
    try:
        table = tomllib.loads(path.read_text()).get("plugins", {})
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return []
    return list(table) if isinstance(table, dict) else []


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


def resolve(registry: Registry, explicit: dict[str, Any], explicit_options: dict[str, Any]) -> RunConfig:
    """Defaults, then component recommendations, then what the user set explicitly."""
    settings = {name: f.default for name, f in FIELDS.items() if f.default is not attrs.NOTHING}
    settings.update({k: [] for k in LIST_KEYS})
    settings.update({k: list(v) if k in LIST_KEYS else v for k, v in explicit.items()})
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
        if spec.type is int and isinstance(value, float):
            raise ValueError
        return spec.type(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{spec.flag} expects a {spec.type.__name__}, got {value!r}") from None


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; an unavailable device is one ConfigError line."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {name}: no CUDA device is available here; use --device cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) here")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"--device {name}: MPS is not available here; use --device cpu")
    return device
