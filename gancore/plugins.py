"""The plugin manager: built-ins and entry points on one pluggy manager, and a registry of names.

Environment variables:

- ``GANCORE_PLUGINS=gan-wgan,gan-lsgan`` loads only these entry-point plugins (by distribution or
  entry-point name; empty loads none), so a run can be reproduced with exactly the plugins it
  recorded. The built-in plugin always loads.
- ``GANCORE_TRACE=1`` traces every hook call to stderr, for plugin authors.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import os
import sys
from types import ModuleType, TracebackType
from typing import Any

import attrs
import pluggy

from gancore import components, hookspecs
from gancore.errors import PluginError

hookimpl = pluggy.HookimplMarker("gancore")

ENTRY_POINT_GROUP = "gancore"
BUILTIN_PLUGINS = ("gancore.builtin",)

#: kind -> (hook name, base class every provided component must subclass)
KINDS: dict[str, tuple[str, type]] = {
    "loss": ("gancore_losses", components.Loss),
    "regularizer": ("gancore_regularizers", components.Regularizer),
    "weighting": ("gancore_sample_weightings", components.SampleWeighting),
    "critic_step": ("gancore_critic_steps", components.CriticStep),
    "monitor": ("gancore_lipschitz_monitors", components.LipschitzMonitor),
    "sampler": ("gancore_samplers", components.Sampler),
    "lr_schedule": ("gancore_lr_schedules", components.LRSchedule),
    "callback": ("gancore_callbacks", components.Callback),
    "prior": ("gancore_priors", components.Prior),
    "generator": ("gancore_generators", components.Network),
    "critic": ("gancore_critics", components.Network),
    "dataset": ("gancore_datasets", components.Dataset),
    "augmentation": ("gancore_augmentations", components.Augmentation),
}


@attrs.frozen
class PluginInfo:
    """One registered plugin: its name, the distribution that installed it and that one's version."""

    name: str
    version: str
    distribution: str | None
    plugin: Any


@attrs.frozen
class Entry:
    """One named component in the registry, with the plugin that provides it."""

    kind: str
    name: str
    cls: type
    plugin: str


_pm: pluggy.PluginManager | None = None
_infos: dict[str, PluginInfo] = {}


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, created on first use (built-ins, then entry points)."""
    global _pm
    if _pm is None:
        pm = pluggy.PluginManager("gancore")
        pm.add_hookspecs(hookspecs)
        if os.environ.get("GANCORE_TRACE"):
            pm.trace.root.setwriter(sys.stderr.write)
            pm.enable_tracing()
        for module_name in BUILTIN_PLUGINS:
            register(importlib.import_module(module_name), name="builtin", pm=pm)
        _load_entry_points(pm)
        _pm = pm
    return _pm


def _gancore_version() -> str:
    try:
        return importlib.metadata.version("gancore")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def register(plugin: Any, name: str | None = None, pm: pluggy.PluginManager | None = None) -> str:
    """Register a plugin object or module at run time; its names are usable at once."""
    pm = pm or get_plugin_manager()
    name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
    registered = pm.register(plugin, name=name)
    if registered is None:
        raise PluginError(f"a plugin named {name!r} is already registered")
    version = _gancore_version() if name == "builtin" else getattr(plugin, "__version__", "-")
    _infos.setdefault(name, PluginInfo(name, str(version), None, plugin))
    return registered


def unregister(name: str) -> None:
    get_plugin_manager().unregister(name=name)
    _infos.pop(name, None)


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    allowed = os.environ.get("GANCORE_PLUGINS")
    wanted = None if allowed is None else {s.strip() for s in allowed.split(",") if s.strip()}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else None
        version = ep.dist.version if ep.dist is not None else "-"
        if wanted is not None and ep.name not in wanted and dist not in wanted:
            continue
        if pm.get_plugin(ep.name) is not None:
            other = _infos.get(ep.name)
            raise PluginError(
                f"two plugins are named {ep.name!r}: distributions {dist!r} and"
                f" {other.distribution if other else '?'!r}; uninstall one"
            )
        try:
            module = ep.load()
        except Exception as exc:
            raise PluginError(
                f"plugin {ep.name!r} (distribution {dist!r}) failed to load: {type(exc).__name__}: {exc}"
            ) from exc
        pm.register(module, name=ep.name)
        _infos[ep.name] = PluginInfo(ep.name, version, dist, module)


def plugin_infos() -> list[PluginInfo]:
    """Every registered plugin, built-in first."""
    pm = get_plugin_manager()
    return [_infos[name] for name, _ in pm.list_name_plugin() if name in _infos]


class Registry:
    """Every component name of every kind, resolved from the hook implementations registered now."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self._entries: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
        trace = bool(os.environ.get("GANCORE_TRACE"))
        for kind, (hook_name, base) in KINDS.items():
            for impl in getattr(pm.hook, hook_name).get_hookimpls():
                try:
                    provided = impl.function() or []
                except Exception as exc:
                    raise PluginFailed(impl.plugin_name, exc, f"in hook {hook_name}") from exc
                if trace:
                    names = [getattr(c, "name", c) for c in provided]
                    sys.stderr.write(f"gancore: {hook_name} [{impl.plugin_name}] -> {names}\n")
                for cls in provided:
                    self._add(kind, base, cls, impl.plugin_name)

    def _add(self, kind: str, base: type, cls: Any, plugin: str) -> None:
        if not (isinstance(cls, type) and issubclass(cls, base)) or not getattr(cls, "name", ""):
            raise PluginError(
                f"plugin {plugin!r} returned {cls!r} from {KINDS[kind][0]}: expected a subclass of"
                f" gancore.components.{base.__name__} with a non-empty `name`"
            )
        existing = self._entries[kind].get(cls.name)
        if existing is not None:
            raise PluginError(
                f"{kind} {cls.name!r} is provided by two plugins: {existing.plugin!r} and"
                f" {plugin!r}; uninstall one, or choose plugins with GANCORE_PLUGINS"
            )
        self._entries[kind][cls.name] = Entry(kind, cls.name, cls, plugin)

    def names(self, kind: str) -> list[str]:
        return sorted(self._entries[kind])

    def entries(self, kind: str | None = None) -> list[Entry]:
        kinds = [kind] if kind else list(KINDS)
        return [self._entries[k][n] for k in kinds for n in sorted(self._entries[k])]

    def get(self, kind: str, name: str) -> Entry:
        try:
            return self._entries[kind][name]
        except KeyError:
            raise PluginError(unknown_name_message(kind, name, self.names(kind))) from None

    def find(self, name: str) -> list[Entry]:
        """Every component called ``name``, whatever its kind."""
        return [e for kind in KINDS for n, e in self._entries[kind].items() if n == name]


def unknown_name_message(kind: str, name: str, known: list[str]) -> str:
    label = kind.replace("_", " ")
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listing = ", ".join(known) if known else "none installed"
    return f"unknown {label} {name!r}{hint} (known: {listing})"


def get_registry() -> Registry:
    """A registry of what is registered right now (cheap: a handful of hook calls)."""
    return Registry(get_plugin_manager())


class PluginFailed(PluginError):
    """An exception raised inside a plugin; reported with the plugin's name (exit 1)."""

    exit_code = 1

    def __init__(self, plugin: str, exc: BaseException, where: str = "") -> None:
        self.plugin = plugin
        self.original = exc
        where = f" {where}" if where else ""
        super().__init__(f"plugin {plugin!r} raised{where}: {type(exc).__name__}: {exc}")


def _plugin_modules() -> list[tuple[str, str]]:
    """(module prefix, plugin name) pairs: a frame in such a module runs that plugin's code."""
    pairs: list[tuple[str, str]] = []
    pm = get_plugin_manager()
    for name, plugin in pm.list_name_plugin():
        if isinstance(plugin, ModuleType):
            pairs.append((plugin.__name__, name))
            info = _infos.get(name)
            if info is not None and info.distribution is not None:
                pairs.append((plugin.__name__.split(".")[0], name))
        else:
            pairs.append((type(plugin).__module__, name))
    for entry in get_registry().entries():
        pairs.append((entry.cls.__module__, entry.plugin))
    # longest prefix first, so gancore.builtin wins over a bare "gancore"
    return sorted(set(pairs), key=lambda p: -len(p[0]))


def plugin_behind(tb: TracebackType | None) -> str | None:
    """The plugin whose code raised, found from the innermost frame outward; None for the engine.

    Frames of libraries (torch, ...) are skipped; the first frame in a plugin's module names the
    plugin; the first frame in gancore's own engine means the engine itself raised.
    """
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame.f_globals.get("__name__", ""))
        tb = tb.tb_next
    pairs = _plugin_modules()
    for module in reversed(frames):
        for prefix, plugin in pairs:
            if module == prefix or module.startswith(prefix + "."):
                return plugin
        if module == "gancore" or module.startswith("gancore."):
            return None
    return None
