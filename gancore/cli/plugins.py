"""`gan plugins` and `gan plugins show`: what is installed, and one component's options."""

from __future__ import annotations

import typer

from gancore.cli.shared import Opt, out


def plugins(ctx: typer.Context) -> None:
    """Every installed plugin with its version and the names it provides."""
    if ctx.invoked_subcommand is not None:
        return
    from gancore.plugins import get_registry, plugin_infos

    registry = get_registry()
    rows = [("plugin", "version", "distribution", "provides")]
    for info in plugin_infos():
        provided = [e for e in registry.entries() if e.plugin == info.name]
        names = ", ".join(f"{e.kind.replace('_', '-')}:{e.name}" for e in provided) or "-"
        rows.append((info.name, info.version, info.distribution or "-", names))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for i, row in enumerate(rows):
        line = "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[3]
        out.print(f"[bold]{line}[/]" if i == 0 else line, highlight=False, soft_wrap=True, markup=i == 0)


def plugins_show(name: Opt[str, typer.Argument(help="a component name, e.g. vanilla")]) -> None:
    """What a component is, its options (flags) and the settings it recommends."""
    from rich.markup import escape

    from gancore.errors import PluginError
    from gancore.plugins import get_registry, unknown_name_message

    registry = get_registry()
    entries = registry.find(name)
    if not entries:
        known = sorted({e.name for e in registry.entries()})
        raise PluginError(unknown_name_message("component", name, known))
    for entry in entries:
        cls = entry.cls
        out.print(f"[bold]{entry.kind.replace('_', '-')} {entry.name}[/] (plugin {entry.plugin})")
        out.print(f"  {escape(cls.summary())}")
        for spec in cls.option_specs():
            out.print(
                f"  {spec.flag} ({spec.type.__name__}, default {spec.default!r}): {escape(spec.help)}",
                highlight=False,
            )
        if cls.recommends:
            out.print(f"  recommends: {escape(str(cls.recommends))}", highlight=False)
