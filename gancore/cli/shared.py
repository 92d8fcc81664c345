"""What every command shares: the consoles, one error line per failure, the option annotation."""

from __future__ import annotations

import functools
import os
import traceback
from typing import Annotated, Any

import typer
from rich.console import Console

from gancore.errors import GancoreError

Opt = Annotated

out = Console()
err = Console(stderr=True)


def fail(message: str, code: int) -> typer.Exit:
    from rich.markup import escape

    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def reports_errors(command):
    """One line and an exit code for every error a user can meet; a traceback only with GANCORE_DEBUG."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from gancore.errors import Interrupted, InterruptedTwice

        try:
            return command(*args, **kwargs)
        except Interrupted as exc:
            err.print(str(exc), style="yellow", highlight=False, soft_wrap=True, markup=False)
            raise typer.Exit(exc.exit_code) from None
        except GancoreError as exc:
            if os.environ.get("GANCORE_DEBUG"):
                traceback.print_exc()
            raise fail(str(exc), exc.exit_code) from None
        except (typer.Exit, typer.Abort):
            raise
        except InterruptedTwice:
            raise fail("interrupted twice: stopped without saving", 130) from None
        except KeyboardInterrupt:  # before training began, or in a command that saves nothing
            raise fail("interrupted; nothing was saved", 130) from None
        except Exception as exc:
            from gancore.plugins import PluginFailed, plugin_behind

            if os.environ.get("GANCORE_DEBUG"):
                traceback.print_exc()
            plugin = plugin_behind(exc.__traceback__)
            if plugin is None:
                raise
            raise fail(f"{PluginFailed(plugin, exc)} (GANCORE_DEBUG=1 shows the traceback)", 1) from None

    return wrapper


def wide_out() -> Console:
    """stdout, at least 180 columns wide: a report table is wide, and folded cells are unreadable."""
    return Console(width=max(out.width, 180))
