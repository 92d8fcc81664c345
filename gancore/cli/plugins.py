"""`gan plugins` and `gan plugins show`: what is installed, and one component's options."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from gancore.cli.shared import Opt, out

if TYPE_CHECKING:
    from gancore.plugins import Entry, PluginInfo, Registry


def plugins(ctx: typer.Context) -> None:
    """Every plugin with its version, its state and the names it provides (or why it failed)."""
    if ctx.invoked_subcommand is not None:
        return
    from gancore.plugins import get_registry, plugin_infos

    registry = get_registry()  # first: building it is what finds plugins whose hooks fail
    rows = [("plugin", "version", "distribution", "state", "provides")]
    for info in plugin_infos():
        rows.append(
            (info.name, info.version, info.distribution or "-", info.state, _provides(info, registry))
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for i, row in enumerate(rows):
        line = "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[4]
        out.print(f"[bold]{line}[/]" if i == 0 else line, highlight=False, soft_wrap=True, markup=i == 0)


def _provides(info: PluginInfo, registry: Registry) -> str:
    """``loss:hinge, regularizer:gp`` for a working plugin; the reason for a failed one."""
    if info.failed:
        return info.reason
    provided = [e for e in registry.entries() if e.plugin == info.name]
    return ", ".join(f"{e.kind.replace('_', '-')}:{e.name}" for e in provided) or "-"


def plugins_show(
    name: Opt[str, typer.Argument(help="a component name: vanilla, builtin:vanilla or loss:vanilla")],
) -> None:
    """What a component is, its options (flags) and the settings it recommends."""
    from gancore.errors import PluginError
    from gancore.plugins import get_registry, unknown_name_message

    registry = get_registry()
    entries = registry.find(name)
    if not entries:
        unusable = registry.unusable_named(name)
        if unusable:
            raise PluginError(registry.why_unusable(unusable[0]))
        known = sorted({e.name for e in registry.entries()})
        message = unknown_name_message("component", name, known)
        if registry.failed:
            message += f"; failed plugins: {', '.join(registry.failed)} (`gan plugins` says why)"
        raise PluginError(message)
    for entry in entries:
        _show(entry, qualify=len(entries) > 1)


def _show(entry: Entry, qualify: bool) -> None:
    from rich.markup import escape

    cls = entry.cls
    name = entry.qualified if qualify else entry.name
    out.print(f"[bold]{entry.kind.replace('_', '-')} {escape(name)}[/] (plugin {escape(entry.plugin)})")
    out.print(f"  {escape(cls.summary())}")
    for spec in cls.option_specs():
        out.print(
            f"  {spec.flag} ({spec.type.__name__}, default {spec.default!r}): {escape(spec.help)}",
            highlight=False,
        )
    if cls.recommends:
        out.print(f"  recommends: {escape(str(cls.recommends))}", highlight=False)
