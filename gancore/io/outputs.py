"""The one rule for what gancore may write: a regular file (or a folder of them) that is its own.

Every output a command writes whole (``--out``, ``--grid``, a report's folder) is checked here
before the first byte of any of them is written, and the atomic writer checks its target again
just before its rename. What is refused, in one line naming the path and what it is:

- anything that exists and is not a regular file: a character or block device (``/dev/null``), a
  FIFO, a socket, a folder where a file is meant; renaming a temporary over them would replace a
  system's device node or a pipe another program reads;
- a symbolic link: the bytes would land in another tree than the one named;
- a path under something that is not a folder, or a file suffix the writer cannot produce.

A path that does not exist yet is fine when its nearest existing ancestor is a folder: the
writers create the folders in between.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from gancore.errors import ConfigError


def kind_of(mode: int) -> str:
    """What a non-regular file is, in the words an error line uses."""
    for test, name in (
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISLNK, "a symbolic link"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def refuse_special(path: Path, what: str = "") -> None:
    """Refuse ``path`` if it exists as anything but a regular file (a link included)."""
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):  # a file in the way: check_parent names it
        return
    if stat.S_ISREG(mode):
        return
    raise ConfigError(
        f"{what}{path} is {kind_of(mode)}, not a regular file; gancore never replaces one: choose a file path"
    )


def check_file(path: Path, what: str = "", suffixes: Iterable[str] | None = None) -> None:
    """A file output ``path`` (``what``: the flag, e.g. ``"--out "``) can be written: see the module."""
    refuse_special(path, what)
    if suffixes is not None:
        allowed = sorted(set(suffixes))
        if path.suffix.lower().lstrip(".") not in allowed:
            raise ConfigError(
                f"{what}{path}: the file name must end in one of .{', .'.join(allowed)} (the format it is"
                " written in)"
            )
    check_parent(path, what)


def check_folder(path: Path, what: str = "") -> None:
    """A folder output ``path`` exists as a real folder (not a link), or can be created."""
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        check_parent(path, what)
        return
    if not stat.S_ISDIR(mode):
        is_what = "a file" if stat.S_ISREG(mode) else kind_of(mode)
        raise ConfigError(f"{what}{path} is {is_what}, not a folder; choose another path")


def check_parent(path: Path, what: str = "") -> None:
    """The nearest existing ancestor of ``path`` is a folder this process may write into."""
    current = path.parent
    while True:
        try:
            mode = os.stat(current).st_mode
            break
        except (FileNotFoundError, NotADirectoryError):
            if current.parent == current:
                return
            current = current.parent
    if not stat.S_ISDIR(mode):
        raise ConfigError(f"{what}{path}: {current} is not a folder, so nothing can be written under it")
    if not os.access(current, os.W_OK | os.X_OK):
        raise ConfigError(
            f"{what}{path}: {current} is not writable; check its permissions, or write elsewhere"
        )
