"""The plugin manager: built-ins and entry points on one pluggy manager, and a registry of names.

No broken package can take gancore down. A plugin that fails to import, whose hook raises, or that
declares an invalid component (not a subclass of its base, an empty name, an option of a type a
flag cannot have) is marked *failed*: `gan plugins` lists it with the reason, one warning goes to
stderr per process, and every other name keeps working. Only selecting one of its names fails,
with one line naming the plugin and the reason.

Every component has a qualified name ``plugin:name`` (``builtin:vanilla``, ``gan-wgan:wgan-gp``)
that always selects it. A bare name claimed by two plugins is an error only when it is selected,
and the error lists the qualified names to choose from.

Environment variables:

- ``GANCORE_PLUGINS=gan-wgan,gan-lsgan`` loads only these entry-point plugins (by distribution or
  entry-point name; empty loads none), so a run can be repeated with exactly the plugins it
  recorded. The built-in plugin always loads. A name that is not installed is an error.
- ``GANCORE_TRACE=1`` traces every hook call to stderr, for plugin authors.
"""

from __future__ import annotations

import copy
import difflib
import importlib
import importlib.metadata
import os
import sys
from collections.abc import Collection
from types import ModuleType, TracebackType
from typing import Any

import attrs
import pluggy

from gancore import components, hookspecs
from gancore.errors import PluginError

hookimpl = pluggy.HookimplMarker("gancore")

ENTRY_POINT_GROUP = "gancore"
BUILTIN = "builtin"
BUILTIN_PLUGINS = ("gancore.builtin",)
#: the states `gan plugins` shows: a failed plugin's names cannot be selected
OK, FAILED = "ok", "failed"
#: separates a plugin's name from a component's in a qualified name (``builtin:vanilla``)
QUALIFIER = ":"

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
    """One plugin: its name, the distribution that installed it, that one's version, and its state.

    ``plugin`` is None for a plugin that failed to import; ``reason`` says why a plugin failed.
    """

    name: str
    version: str
    distribution: str | None
    plugin: Any
    state: str = OK
    reason: str = ""

    @property
    def failed(self) -> bool:
        return self.state == FAILED

    def label(self) -> str:
        """``plugin 'gan-x' (distribution 'gan-x-pkg')``: how error lines name a plugin."""
        dist = f" (distribution {self.distribution!r})" if self.distribution not in (None, self.name) else ""
        return f"plugin {self.name!r}{dist}"


@attrs.frozen
class Entry:
    """One named component in the registry, with the plugin that provides it."""

    kind: str
    name: str
    cls: type
    plugin: str

    @property
    def qualified(self) -> str:
        """``plugin:name``, the name that selects this component whatever else is installed."""
        return f"{self.plugin}{QUALIFIER}{self.name}"


@attrs.frozen
class Unusable:
    """A component declared by a failed plugin: its name is known, but it is never built."""

    kind: str
    name: str
    plugin: str

    @property
    def qualified(self) -> str:
        return f"{self.plugin}{QUALIFIER}{self.name}"


_pm: pluggy.PluginManager | None = None
_infos: dict[str, PluginInfo] = {}
#: plugins already warned about in this process (a registry is built many times per command)
_warned: set[str] = set()


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, created on first use (built-ins, then entry points).

    Only a ``GANCORE_PLUGINS`` that names a plugin which is not installed raises here: an entry
    point that fails to load is recorded as a failed plugin instead.
    """
    global _pm
    if _pm is None:
        pm = pluggy.PluginManager("gancore")
        pm.add_hookspecs(hookspecs)
        if os.environ.get("GANCORE_TRACE"):
            pm.trace.root.setwriter(sys.stderr.write)
            pm.enable_tracing()
        for module_name in BUILTIN_PLUGINS:
            register(importlib.import_module(module_name), name=BUILTIN, pm=pm)
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
    version = _gancore_version() if name == BUILTIN else getattr(plugin, "__version__", "-")
    _infos.setdefault(name, PluginInfo(name, str(version), None, plugin))
    return registered


def unregister(name: str) -> None:
    get_plugin_manager().unregister(name=name)
    _infos.pop(name, None)
    _warned.discard(name)


def _wanted() -> set[str] | None:
    """The plugins ``GANCORE_PLUGINS`` names, or None when it is not set (load every one)."""
    allowed = os.environ.get("GANCORE_PLUGINS")
    return None if allowed is None else {s.strip() for s in allowed.split(",") if s.strip()}


def _check_wanted(wanted: set[str], eps: Collection[importlib.metadata.EntryPoint]) -> None:
    """A name in GANCORE_PLUGINS that no installed plugin has is a mistake, never silently ignored."""
    installed = {ep.name for ep in eps} | {ep.dist.name for ep in eps if ep.dist is not None}
    unknown = sorted(wanted - installed - {BUILTIN})
    if unknown:
        listing = ", ".join(sorted(installed)) or "none"
        raise PluginError(
            f"GANCORE_PLUGINS names {unknown[0]!r}, which is not an installed gancore plugin"
            f" (installed: {listing}; the built-in plugin always loads)"
        )


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    """Load the entry points GANCORE_PLUGINS allows; one that cannot load is a failed plugin."""
    wanted = _wanted()
    eps = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    if wanted is not None:
        _check_wanted(wanted, eps)
    for ep in eps:
        dist = ep.dist.name if ep.dist is not None else None
        if wanted is not None and ep.name not in wanted and dist not in wanted:
            continue
        info = PluginInfo(ep.name, ep.dist.version if ep.dist is not None else "-", dist, None)
        other = _infos.get(ep.name)
        if other is not None:
            name = f"{ep.name}~{dist}"  # both stay listed; the first one keeps the name
            reason = f"another plugin is already named {ep.name!r} ({other.label()}); uninstall one"
            _fail(attrs.evolve(info, name=name), reason)
            continue
        try:
            module = ep.load()
            pm.register(module, name=ep.name)
        except (Exception, SystemExit) as exc:
            _fail(info, f"import raised {_one_line(exc)}")
            continue
        _infos[ep.name] = attrs.evolve(info, plugin=module)


def _one_line(exc: BaseException) -> str:
    """``ImportError: No module named 'x'``: an exception as a line of an error message."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _fail(info: PluginInfo, reason: str) -> None:
    """Mark a plugin failed, once: its names become unusable and stderr gets one warning."""
    current = _infos.get(info.name, info)
    if current.failed:
        return
    failed = attrs.evolve(current, state=FAILED, reason=reason)
    _infos[info.name] = failed
    if info.name not in _warned:
        _warned.add(info.name)
        sys.stderr.write(
            f"gancore: warning: {failed.label()} failed and is not used: {reason}"
            " (`gan plugins` lists it; everything else works)\n"
        )


def _fail_by_name(name: str, reason: str) -> None:
    _fail(_infos.get(name) or PluginInfo(name, "-", None, None), reason)


def plugin_infos() -> list[PluginInfo]:
    """Every plugin, built-in first, failed ones included (``state`` says which)."""
    get_plugin_manager()
    return list(_infos.values())


def component_problem(kind: str, cls: Any) -> str | None:
    """Why ``cls`` cannot be a component of ``kind`` (one line), or None when it can.

    Checked for every component of every plugin when the registry is built, so that a mistake
    stops only the plugin that made it, not every command that lists the options of all.
    """
    hook, base = KINDS[kind]
    if not (isinstance(cls, type) and issubclass(cls, base)):
        return f"{hook} returned {cls!r}, which is not a subclass of gancore.{base.__name__}"
    name = getattr(cls, "name", "")
    if not isinstance(name, str) or not name.strip():
        return f"{hook} returned {cls.__name__}, whose `name` is empty"
    if QUALIFIER in name or name != name.strip() or "," in name:
        return f"{kind} name {name!r} may not contain {QUALIFIER!r}, ',' or surrounding spaces"
    try:
        cls.option_specs()
    except TypeError as exc:  # an option of a type a flag cannot have: the message names it
        return str(exc)
    except Exception as exc:  # e.g. an annotation naming a type that does not exist
        return f"the options of {kind.replace('_', ' ')} {name!r} cannot be read: {_one_line(exc)}"
    return None


def _collect(pm: pluggy.PluginManager) -> dict[str, list[tuple[str, Any]]]:
    """plugin -> [(kind, what its hook returned)]; a hook that raises fails its plugin."""
    trace = bool(os.environ.get("GANCORE_TRACE"))
    provided: dict[str, list[tuple[str, Any]]] = {}
    for kind, (hook_name, _) in KINDS.items():
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            items = provided.setdefault(impl.plugin_name, [])
            try:
                returned = list(impl.function() or [])
            except Exception as exc:
                _fail_by_name(impl.plugin_name, f"hook {hook_name} raised {_one_line(exc)}")
                continue
            if trace:
                names = [getattr(c, "name", c) for c in returned]
                sys.stderr.write(f"gancore: {hook_name} [{impl.plugin_name}] -> {names}\n")
            items += [(kind, cls) for cls in returned]
    return provided


def _first_problem(items: list[tuple[str, Any]]) -> str | None:
    """The first invalid component of one plugin, or a name it declares twice for one kind."""
    seen: set[tuple[str, str]] = set()
    for kind, cls in items:
        problem = component_problem(kind, cls)
        if problem is not None:
            return problem
        if (kind, cls.name) in seen:
            return f"{kind.replace('_', ' ')} {cls.name!r} is declared twice"
        seen.add((kind, cls.name))
    return None


class Registry:
    """Every component name of every kind, resolved from the hook implementations registered now.

    Healthy plugins' components are selectable by bare or qualified name; a failed plugin's are
    kept as ``Unusable`` so that selecting one says why it cannot be used.
    """

    def __init__(self, pm: pluggy.PluginManager, prefer: Collection[str] = ()) -> None:
        self._entries: dict[str, list[Entry]] = {kind: [] for kind in KINDS}
        self._unusable: dict[str, list[Unusable]] = {kind: [] for kind in KINDS}
        #: plugins whose provider wins when a bare name is claimed by several (see ``preferring``)
        self.prefer = frozenset(prefer)
        for plugin, items in _collect(pm).items():
            problem = _first_problem(items)
            if problem is not None:
                _fail_by_name(plugin, problem)
            info = _infos.get(plugin)
            for kind, cls in items:
                if info is None or not info.failed:
                    self._entries[kind].append(Entry(kind, cls.name, cls, plugin))
                elif isinstance(getattr(cls, "name", None), str) and cls.name:
                    self._unusable[kind].append(Unusable(kind, cls.name, plugin))
        for kind in KINDS:
            self._entries[kind].sort(key=lambda e: (e.name, e.plugin))
        #: plugin name -> its PluginInfo (``reason`` says why), for every failed plugin, import failures too
        self.failed = {i.name: i for i in _infos.values() if i.failed}
        #: distribution name -> the plugin (entry point) it installed: a qualifier may be either, as
        #: GANCORE_PLUGINS accepts either
        self.aliases = {
            i.distribution: i.name for i in _infos.values() if i.distribution not in (None, i.name)
        }

    def _plugin(self, qualifier: str) -> str:
        """The plugin a qualifier names: its entry-point name, or the distribution that installed it."""
        return self.aliases.get(qualifier, qualifier)

    def preferring(self, plugins: Collection[str]) -> Registry:
        """This registry, where a bare name claimed by several plugins means the one in ``plugins``.

        A run records the plugins it was made with; a plugin installed later that claims one of its
        bare names must not stop ``--resume``, ``gan sample`` or ``gan eval`` of that run.
        """
        other = copy.copy(self)
        other.prefer = frozenset(plugins)
        return other

    def names(self, kind: str) -> list[str]:
        """The names that select each healthy component of ``kind``: bare where one plugin claims
        it, qualified where several do."""
        counts = _counts(self._entries[kind])
        return sorted(e.name if counts[e.name] == 1 else e.qualified for e in self._entries[kind])

    def entries(self, kind: str | None = None) -> list[Entry]:
        """The healthy components of ``kind`` (every kind by default), by name."""
        kinds = [kind] if kind else list(KINDS)
        return [e for k in kinds for e in self._entries[k]]

    def unusable(self, kind: str | None = None) -> list[Unusable]:
        """The components failed plugins declared, which cannot be selected."""
        kinds = [kind] if kind else list(KINDS)
        return [u for k in kinds for u in self._unusable[k]]

    def get(self, kind: str, name: str) -> Entry:
        """The component ``name`` (bare or ``plugin:name``) of ``kind``; else one clear error line."""
        plugin, _, bare = name.rpartition(QUALIFIER)
        plugin = self._plugin(plugin)
        matches = [e for e in self._entries[kind] if e.name == bare and plugin in ("", e.plugin)]
        if len(matches) > 1:
            preferred = [e for e in matches if e.plugin in self.prefer]
            if len(preferred) == 1:
                return preferred[0]
            raise PluginError(ambiguous_name_message(kind, bare, matches))
        if matches:
            return matches[0]
        raise PluginError(self._missing(kind, name, plugin, bare))

    def _missing(self, kind: str, name: str, plugin: str, bare: str) -> str:
        """Why ``name`` selects nothing: its plugin failed, or no plugin has it (and which failed)."""
        label = kind.replace("_", " ")
        for u in self._unusable[kind]:
            if u.name == bare and plugin in ("", u.plugin):
                return f"{label} {name!r} cannot be used: {self._failure(u.plugin)}"
        if plugin in self.failed:
            return f"{label} {name!r} cannot be used: {self._failure(plugin)}"
        known = [e.qualified for e in self._entries[kind]] if plugin else self.names(kind)
        message = unknown_name_message(kind, name, known)
        unknown_names = [i for i in self.failed.values() if not self._declares(i.name)]
        if unknown_names:
            message += "".join(f"; {i.label()} failed ({i.reason}) and may provide it" for i in unknown_names)
        return message

    def _declares(self, plugin: str) -> bool:
        return any(u.plugin == plugin for u in self.unusable())

    def _failure(self, plugin: str) -> str:
        info = self.failed.get(plugin)
        return f"{info.label()} failed: {info.reason}" if info else f"plugin {plugin!r} failed"

    def find(self, name: str) -> list[Entry]:
        """Every healthy component called ``name``, whatever its kind.

        ``name`` may be qualified by its plugin (``builtin:vanilla``) or, as `gan plugins` lists
        names, by its kind (``loss:vanilla``).
        """
        prefix, _, bare = name.rpartition(QUALIFIER)
        prefix = self._plugin(prefix)
        kind = prefix.replace("-", "_")
        by_kind = kind in KINDS and not any(e.plugin == prefix for e in self.entries())
        return [
            e
            for e in self.entries(kind if by_kind else None)
            if e.name == bare and (by_kind or prefix in ("", e.plugin))
        ]

    def unusable_named(self, name: str) -> list[Unusable]:
        """The unusable components ``find`` would have found, had their plugins not failed."""
        prefix, _, bare = name.rpartition(QUALIFIER)
        prefix = self._plugin(prefix)
        return [u for u in self.unusable() if u.name == bare and prefix in ("", u.plugin, u.kind)]

    def why_unusable(self, u: Unusable) -> str:
        return f"{u.kind.replace('_', ' ')} {u.qualified!r} cannot be used: {self._failure(u.plugin)}"


def _counts(entries: list[Entry]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in entries:
        counts[e.name] = counts.get(e.name, 0) + 1
    return counts


def ambiguous_name_message(kind: str, name: str, entries: list[Entry]) -> str:
    """One line for a bare name several plugins claim: the qualified names that select each."""
    choices = ", ".join(e.qualified for e in entries)
    return f"{kind.replace('_', ' ')} {name!r} is provided by {len(entries)} plugins; choose one of {choices}"


def unknown_name_message(kind: str, name: str, known: list[str]) -> str:
    label = kind.replace("_", " ")
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listing = ", ".join(known) if known else "none installed"
    return f"unknown {label} {name!r}{hint} (known: {listing})"


def get_registry(prefer: Collection[str] = ()) -> Registry:
    """A registry of what is registered right now (cheap: a handful of hook calls)."""
    return Registry(get_plugin_manager(), prefer)


def provider(component: Any) -> str:
    """The plugin whose class ``component`` is (an instance or a class), for error lines."""
    cls = component if isinstance(component, type) else type(component)
    for entry in get_registry().entries():
        if entry.cls is cls:
            return entry.plugin
    return cls.__module__.split(".")[0]


class PluginFailed(PluginError):
    """An exception raised inside a plugin; reported with the plugin's name (exit 1)."""

    exit_code = 1

    def __init__(self, plugin: str, exc: BaseException, where: str = "") -> None:
        self.plugin = plugin
        self.original = exc
        where = f" {where}" if where else ""
        super().__init__(f"plugin {plugin!r} raised{where}: {type(exc).__name__}: {exc}")


class PluginContractError(PluginError):
    """A plugin's code returned what its contract forbids (a loss of the wrong shape): one line
    naming the plugin, exit 2 like every other input gancore cannot use, a plugin being input too.

    The user can choose another component; the line names the plugin so that its author can be told.
    """

    def __init__(self, component: Any, problem: str) -> None:
        self.plugin = provider(component)
        kind = getattr(component, "kind", "component").replace("_", " ")
        name = getattr(component, "name", type(component).__name__)
        super().__init__(f"plugin {self.plugin!r}: {kind} {name!r} {problem}")


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
