"""One atomic writer: a file is either its old self or the complete new one, never half written.

Every file gancore writes whole (config.toml, checkpoints, eval.json, sweep status, PNGs, .npz,
reports) goes through here: the bytes go to a temporary file in the same folder (a rename is atomic
only within one file system), which is flushed to disk and then renamed over the target with
``os.replace``. A crash, a full disk or Ctrl-C midway leaves the old file intact, and the temporary is
removed on any error. The target must be a regular file or nothing (``outputs.refuse_special``): a
rename would replace a device node such as /dev/null, a FIFO, or a symbolic link. The temporary's
name holds the process id and a random part, so two processes (a sweep's jobs, a resumed run beside
an evaluation) never write into each other's temporary.

``atomic_path`` serves libraries that write by file name (safetensors' ``save_file``, numpy's
``savez``, Pillow's ``save``, matplotlib's ``savefig``): the temporary keeps the target's suffix,
because those libraries choose the format from it (and numpy appends ``.npz`` to any other name).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

from safetensors import SafetensorError

from gancore.io.outputs import refuse_special


def temporary_name(path: Path) -> Path:
    """``.<stem>.tmp-<pid>-<random><suffix>`` beside ``path``: hidden, unique, same suffix."""
    return path.with_name(f".{path.stem}.tmp-{os.getpid()}-{secrets.token_hex(4)}{path.suffix}")


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable; folders cannot be opened for syncing outside POSIX."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, fsync: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write; when the block ends without error it replaces ``path``.

    With ``fsync`` (the default) the data and then the rename are flushed to disk before this
    returns, so a power cut cannot leave an empty file behind a completed rename. Writers of many
    small files whose loss is harmless (one PNG per sample) may turn it off: the replacement stays
    atomic, only its durability waits for the operating system.
    """
    target = Path(path)
    refuse_special(target)  # before any work: a device node, a FIFO or a link is never replaced
    tmp = temporary_name(target)
    try:
        yield tmp
        if not tmp.is_file():
            raise FileNotFoundError(f"nothing was written to the temporary file for {target}")
        if fsync:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        refuse_special(target)  # again: something may have been put there while the bytes were made
        os.replace(tmp, target)
        if fsync:
            _sync_folder(target.parent)
    except (OSError, SafetensorError) as exc:
        failure = _os_error(exc, target)
        if failure is None:
            raise
        raise failure from exc
    finally:
        tmp.unlink(missing_ok=True)  # gone already after a successful replace


def _os_error(exc: Exception, target: Path) -> OSError | None:
    """A failed write as an OSError naming the target, not the hidden temporary (the user never
    sees that name); safetensors' Rust writer reports a full disk as ``... (os error 28)``."""
    if isinstance(exc, OSError):
        return type(exc)(exc.errno, exc.strerror or str(exc), str(target))
    found = re.search(r"os error (\d+)", str(exc))
    if found is None:
        return None
    code = int(found.group(1))
    return OSError(code, os.strerror(code), str(target))


def write_atomic(path: str | os.PathLike[str], data: str | bytes, *, fsync: bool = True) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8), atomically; see ``atomic_path``."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_path(path, fsync=fsync) as tmp:
        tmp.write_bytes(payload)


def copy_atomic(source: str | os.PathLike[str], path: str | os.PathLike[str]) -> None:
    """Replace ``path`` with a copy of ``source``, atomically: an independent copy, not a hard link,
    so that bytes damaged in one file leave the other intact."""
    import shutil

    with atomic_path(path) as tmp:
        shutil.copyfile(source, tmp)
