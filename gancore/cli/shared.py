"""What every command shares: the consoles, one error line per failure, the option annotation."""

from __future__ import annotations

import errno
import functools
import os
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from gancore.errors import GancoreError

Opt = Annotated

out = Console()
err = Console(stderr=True)


#: `--cluster-config`, as `gan sweep` and `gan tune` take it
ClusterConfigOpt = Opt[
    Path | None,
    typer.Option(help="TOML file whose \\[cluster] table gives partition, GPUs, CPUs, time limit"),
]


def cluster_opt(what: str) -> Any:
    """`--cluster ENGINE`: ``what`` goes through submitit as cluster jobs."""
    return Opt[
        str | None,
        typer.Option(
            help=f"submit {what} through submitit: slurm, or local/debug to try the same here"
            " (pip install submitit)"
        ),
    ]


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
            if exc.exit_code == 2 and _a_later_rank():  # bad input is refused alike on every rank:
                raise typer.Exit(2) from None  # rank 0 says it once (the launcher covers the rest)
            raise fail(str(exc), exc.exit_code) from None
        except (typer.Exit, typer.Abort):
            raise
        except InterruptedTwice:
            raise fail("interrupted twice: stopped without saving", 130) from None
        except OSError as exc:  # a read-only folder, a full disk, a file where a folder belongs
            if os.environ.get("GANCORE_DEBUG"):
                traceback.print_exc()
            raise fail(os_error_message(exc), 2) from None
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


def _a_later_rank() -> bool:
    """A process of a torchrun run other than rank 0."""
    from gancore.train.distributed import launched, rank_from_env

    return launched() and rank_from_env() > 0


_OS_ERROR_FIXES = {
    errno.ENOSPC: "free some disk space, or write elsewhere",
    errno.EDQUOT: "free some of your disk quota, or write elsewhere",
    errno.EACCES: "check the folder's permissions, or write elsewhere",
    errno.EPERM: "the file or folder is protected (immutable?); write elsewhere",
    errno.EROFS: "the file system is read-only; write elsewhere",
    errno.ENOTDIR: "a file is in the way where a folder is needed; move it or choose another path",
    errno.EISDIR: "a folder is in the way where a file is needed; choose a file path",
    errno.EEXIST: "something is in the way; move it or choose another path",
}


def os_error_message(exc: OSError) -> str:
    """One line for a failed read or write: what, where, and what to do about it."""
    where = exc.filename if exc.filename is not None else "a file"
    reason = exc.strerror or str(exc)
    fix = _OS_ERROR_FIXES.get(exc.errno, "check the path, its permissions and the free space")
    return f"cannot use {where}: {reason}; {fix}"


def wide_out() -> Console:
    """stdout, at least 180 columns wide: a report table is wide, and folded cells are unreadable."""
    return Console(width=max(out.width, 180))
