"""One process at a time in a run folder: an OS lock on ``<run>/.lock``, and the leftovers it clears.

``fcntl.flock`` (the standard library, no extra dependency: ``filelock`` wraps the same call but
truncates the file it locks, and the holder's name is what we write into it) ties the lock to the
open file, so the operating system releases it on any exit, SIGKILL included: a stale lock cannot
exist, and a lock file left behind is just a note of who held it last. The holder writes its pid,
host and start time into the file, so the second process can say who is in its way.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from gancore.errors import ConfigError

LOCK_NAME = ".lock"
#: ``gancore.io.atomic.temporary_name``: ``.<stem>.tmp-<pid>-<random><suffix>``
TEMPORARY = re.compile(r"^\..*\.tmp-(\d+)-[0-9a-f]+(\.[^.]*)?$")


def _holder(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 4096).decode("utf-8", "replace").strip()
    return text or "another process"


@contextlib.contextmanager
def hold(folder: Path) -> Iterator[None]:
    """Own ``folder`` for the block, or fail at once with one line naming the process that owns it."""
    path = folder / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # never truncated before the lock is ours
    except OSError as exc:
        raise ConfigError(
            f"cannot lock {folder} for this run ({exc.strerror}: {path}); check the folder's permissions"
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                f"{folder} is in use by {_holder(fd)}; wait for it to finish (or stop it), then try again"
            ) from None
        started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        note = f"pid {os.getpid()} on {socket.gethostname()} since {started}\n".encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, note, 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def remove_orphans(folder: Path) -> list[Path]:
    """Delete temporary files (``gancore.io.atomic``) left in ``folder`` by processes no longer alive.

    A kill between writing a temporary and renaming it leaves one behind, as large as a checkpoint.
    Those of live processes stay: a ``gan eval`` may be writing beside a training run.
    """
    removed = []
    for path in sorted(folder.rglob(".*.tmp-*")):
        if path.is_file() and _orphaned(path):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _orphaned(path: Path) -> bool:
    """Whether ``path`` is a temporary (``TEMPORARY``) of a process no longer alive, not this one."""
    match = TEMPORARY.match(path.name)
    return bool(match) and int(match[1]) != os.getpid() and not _alive(int(match[1]))


def remove_orphans_of(target: Path) -> list[Path]:
    """Delete the temporaries of ``target`` (files or folders beside it) left by processes no longer
    alive: a `gan sample --out pngs/` killed midway leaves its hidden partial folder, removed when
    the same folder is written again."""
    removed = []
    for path in sorted(target.parent.glob(f".{target.stem}.tmp-*")):
        if not _orphaned(path):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed
