"""The components' flags of `gan run` (and the samplers' of `gan sample`/`gan eval`): real typed
options, made from the registry only when needed.

Every option a component declares (``dropout: float = option(0.0, ...)``) is a flag of ``gan run``
that Typer parses and type-checks (``--dropout 0.3``; a bool is ``--saturating/--no-saturating``)
and that ``gan run --help`` lists in a panel per component. The flags are made by ``RunCommand``
when ``run`` parses its arguments or shows its help, not when the app is built, so that ``gan --help``
and the other commands never load the plugins (and torch) for them. The values given reach the
command's function through ``ctx.meta[GIVEN]``, as raw typed values keyed by option name.
``SamplerCommand`` does the same for the samplers' options alone (``gan sample --drs-gamma p80``).
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup

try:  # typer vendors click from 0.20 on; earlier versions used click itself
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover
    from click.exceptions import UsageError

from gancore.cli.shared import fail, reports_errors

if TYPE_CHECKING:
    from gancore.components import OptionSpec
    from gancore.plugins import Entry

#: ``ctx.meta`` key of {option name: value} for the component flags given on the command line
GIVEN = "gancore.component_options"
#: the click parameter names of component flags: apart from ``run``'s own parameters
_PREFIX = "component_option__"

Owners = list[tuple["Entry", "OptionSpec"]]


@contextmanager
def usage_errors_as_one_line() -> Iterator[None]:
    """Click's usage errors (a bad flag, value or command) as one line and exit 2, not a usage panel."""
    try:
        yield
    except UsageError as exc:
        raise fail(exc.format_message(), 2) from None


class OneLineCommand(TyperCommand):
    """A command whose bad flags, values and missing arguments are one line, not a usage panel."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        with usage_errors_as_one_line():
            return super().parse_args(ctx, args)


class OneLineGroup(TyperGroup):
    """A command group (`gan`, `gan plugins`) whose unknown command is one line, not a usage panel."""

    def resolve_command(self, ctx: typer.Context, args: list[str]) -> Any:
        with usage_errors_as_one_line():
            return super().resolve_command(ctx, args)

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        with usage_errors_as_one_line():
            return super().parse_args(ctx, args)


class ComponentCommand(TyperCommand):
    """A command's own flags plus one per option of the components of ``kinds``; bad input is one line."""

    #: the component kinds whose options become flags; None: every kind
    kinds: ClassVar[tuple[str, ...] | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._component_params: list[Any] | None = None

    def component_params(self) -> list[Any]:
        """The component flags, made once per command object (Typer makes one per invocation)."""
        if self._component_params is None:
            own = {flag for p in self.params for flag in (*p.opts, *p.secondary_opts)} | {"--help"}
            self._component_params = reports_errors(_make_params)(own, self.kinds, f"gan {self.name}")
        return self._component_params

    def get_params(self, ctx: typer.Context) -> list[Any]:
        return [*super().get_params(ctx), *self.component_params()]

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        """Parse as click does, but report a bad flag or value as one line, not a usage panel."""
        ctx.meta[ARGV] = list(args)  # the command's own arguments, for `gan run --nproc` to pass on
        with usage_errors_as_one_line():
            rest = super().parse_args(ctx, args)
        if rest and not ctx.resilient_parsing:
            known = [flag for p in self.get_params(ctx) for flag in (*p.opts, *p.secondary_opts)]
            raise fail(unknown_argument_message(rest[0], known, f"gan {ctx.info_name}"), 2)
        return rest

    def invoke(self, ctx: typer.Context) -> Any:
        """Move the component flags given out of ``ctx.params`` (``run`` has no such parameters)."""
        given: dict[str, Any] = {}
        for param in self.component_params():
            value = ctx.params.pop(param.name, None)
            if value is not None:
                given[param.name.removeprefix(_PREFIX)] = value
        ctx.meta[GIVEN] = given
        return super().invoke(ctx)


#: ``ctx.meta`` key of the arguments the command was given (after its name)
ARGV = "gancore.argv"


class RunCommand(ComponentCommand):
    """``gan run``: its own flags plus one per option of every installed component."""

    kinds = None


class SamplerCommand(ComponentCommand):
    """``gan sample``, ``gan eval``: their own flags plus one per option of every installed sampler."""

    kinds = ("sampler",)


def unknown_argument_message(token: str, known: Iterable[str], command: str = "gan run") -> str:
    """One line for an argument no flag takes, with the closest flag and where options are listed."""
    if not token.startswith("-"):
        return f"unexpected argument {token!r}: every setting of {command} is a --flag"
    flag = token.partition("=")[0]
    close = difflib.get_close_matches(flag, sorted(set(known)), n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    return (
        f"no such option {flag}{hint} (`{command} --help` lists every flag,"
        " `gan plugins show NAME` one component's options)"
    )


def _make_params(
    own_flags: set[str], kinds: tuple[str, ...] | None = None, command: str = "gan run"
) -> list[Any]:
    """Typer options for the options of every installed component of ``kinds`` (None: all),
    checked against the command's own flags.

    They are made the way Typer makes any option, from a function signature, so that they parse,
    convert and show in the help exactly like the command's own, through Typer's public API only.
    """
    from gancore.config import describe, options_by_name
    from gancore.errors import PluginError
    from gancore.plugins import get_registry

    entries = [e for e in get_registry().entries() if kinds is None or e.kind in kinds]
    by_name = options_by_name(entries)
    claimed = dict.fromkeys(own_flags, f"{command} itself")
    parameters = []
    for name, owners in by_name.items():
        for flag in _flags(owners[0][1]):
            if flag in claimed:
                raise PluginError(
                    f"option {flag} of {describe(owners[0][0])} is also a flag of {claimed[flag]};"
                    " the component must rename it"
                )
            claimed[flag] = describe(owners[0][0])
        parameters.append(_parameter(name, owners))

    def collect(**values: Any) -> dict[str, Any]:
        return values

    collect.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    collect.__annotations__ = {p.name: p.annotation for p in parameters}
    app = typer.Typer(add_completion=False)
    app.command()(collect)
    return list(typer.main.get_command(app).params)


def _flags(spec: OptionSpec) -> list[str]:
    return [spec.flag, "--no-" + spec.flag[2:]] if spec.type is bool else [spec.flag]


def _parameter(name: str, owners: Owners) -> inspect.Parameter:
    """One keyword parameter ``component_option__NAME: Annotated[T | None, typer.Option(...)] = None``.

    None as the default tells a flag given from one left out, so that a flag left out never hides
    a recommendation or a --config value; the help shows the components' own defaults instead.
    """
    spec = owners[0][1]
    decl = f"{spec.flag}/--no-{spec.flag[2:]}" if spec.type is bool else spec.flag
    info = typer.Option(decl, help=_help(owners), show_default=False, rich_help_panel=_panel(owners))
    return inspect.Parameter(
        _PREFIX + name,
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[spec.type | None, info],
    )


def _panel(owners: Owners) -> str:
    """``Options of critic conv / mlp``: the components sharing an option, grouped by kind."""
    names: dict[str, list[str]] = {}
    for entry, _ in owners:
        names.setdefault(entry.kind.replace("_", " "), []).append(entry.name)
    return "Options of " + ", ".join(f"{kind} {' / '.join(n)}" for kind, n in names.items())


def _help(owners: Owners) -> str:
    """The option's help and default, in the style of ``run``'s own flags; where the components
    sharing it describe it differently, each one's. Escaped: help text is not rich markup."""
    from rich.markup import escape

    helps: dict[str, list[str]] = {}
    for entry, spec in owners:
        helps.setdefault(spec.help, []).append(entry.name)
    text = next(iter(helps))
    if len(helps) > 1:
        text = "; ".join(f"{', '.join(names)}: {help}" for help, names in helps.items())
    return escape(f"{text} (default {_default(owners)})")


def _default(owners: Owners) -> str:
    """The components' own default (a bool's as on/off), each one's where they differ."""
    shown: dict[str, list[str]] = {}
    for entry, spec in owners:
        text = ("on" if spec.default else "off") if spec.type is bool else str(spec.default)
        shown.setdefault(text, []).append(entry.name)
    if len(shown) == 1:
        return next(iter(shown))
    return ", ".join(f"{text} for {', '.join(names)}" for text, names in shown.items())
