"""Every file nmsim writes goes through here: atomic writes and output-location checks.

:func:`atomic_open` writes to a temporary file in the destination's directory, flushes and
fsyncs it, then renames it over the destination (``os.replace``): a reader, a crash, a kill or
a full disk never leaves a torn file under the final name, and the temporary is removed on any
failure. An ``OSError`` (disk full, permission, read-only file system) is re-raised as
:class:`OutputError`, naming the file; files written before stay complete.

:func:`check_output_dir` and :func:`check_output_file` are called by each command before any
work starts, so that a bad ``--out`` fails at once, naming the argument, instead of after the
simulation (see ``docs/errors.md``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from simulator.errors import UserError

#: file systems that hold no regular files to write results into
SPECIAL_ROOTS = ("/proc", "/sys", "/dev")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_MODE = 0o666 & ~_umask()  # what open(path, "w") would give a new file


class OutputError(UserError, OSError):
    """An output file could not be written (disk full, permission, read-only file system);
    the message names the file. Earlier, complete files are kept."""


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", *, encoding: str | None = "utf-8",
                newline: str | None = None) -> Iterator[IO[Any]]:
    """``open(path, mode)`` that only ever shows a complete file under ``path``: write to the
    yielded file; on a clean exit it is fsynced and renamed over ``path``, on any exception
    (Ctrl-C included) the temporary is removed and ``path`` keeps what it held before."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open: mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    # The name is chosen before the file is made, both inside the ``try``: an interrupt at
    # any moment (a signal between two bytecodes) finds the name set and removes the file.
    tmp = os.path.join(path.parent or ".", f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        binary = mode == "wb"
        with os.fdopen(fd, mode, encoding=None if binary else encoding,
                       newline=None if binary else newline) as f:
            os.fchmod(f.fileno(), _MODE)
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if not isinstance(e, FileExistsError):  # else the name was another writer's
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(e, OSError) and not isinstance(e, OutputError):
            raise _error(path, e) from e
        raise
    _fsync_dir(path.parent)


def write_atomic(path: str | Path, data: str | bytes | Callable[[IO[bytes]], Any]) -> Path:
    """Write ``data`` (text as UTF-8, bytes, or a function given the open binary file, e.g.
    ``lambda f: np.savez_compressed(f, ...)``) to ``path`` atomically; returns ``path``."""
    path = Path(path)
    if isinstance(data, str):
        with atomic_open(path, "w") as f:
            f.write(data)
    else:
        with atomic_open(path, "wb") as f:
            if isinstance(data, bytes | bytearray):
                f.write(data)
            else:
                data(f)
    return path


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (best effort: not every file system allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory or ".", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _error(path: Path, e: OSError) -> OutputError:
    reason = e.strerror or str(e)
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        reason += " (disk full: files written before it are complete; free space and run again)"
    err = OutputError(f"cannot write {path}: {reason}")
    err.path, err.cause_errno = path, e.errno  # (errno/strerror would change its message)
    return err


# -- checks before any work ---------------------------------------------------------------------
def _special(path: Path) -> bool:
    text = str(path)
    return any(text == root or text.startswith(root + "/") for root in SPECIAL_ROOTS)


def _writable_dir(directory: Path) -> str | None:
    """Why files cannot be created in the existing ``directory``, or None (probed: a
    read-only file system or permissions refuse a real file, even to root)."""
    try:
        with tempfile.TemporaryFile(dir=directory, prefix=".nmsim-probe-"):
            pass
    except OSError as e:
        return f"cannot create files in {directory}: {e.strerror or e}"
    return None


def _dir_problem(full: Path) -> str | None:
    """Why ``full`` (absolute) cannot be, or be made, a writable directory; None if it can."""
    if _special(full):
        return f"nothing can be written under /{full.parts[1]} (not a normal file system)"
    if full.exists() and not full.is_dir():
        return f"{full} is an existing file, not a directory"
    existing = full
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, so the directory {full} cannot be created"
    return _writable_dir(existing)


def check_output_dir(path: str | Path | None, argument: str) -> None:
    """Raise :class:`UserError` naming ``argument`` unless ``path`` is (or can be made) a
    writable directory. Nothing is created."""
    if path is None:
        return
    problem = _dir_problem(Path(os.path.abspath(path)))
    if problem:
        raise UserError(f"{argument} {path}: {problem}; give a writable directory (it is "
                        "created if missing)")


def check_output_file(path: str | Path | None, argument: str) -> None:
    """Raise :class:`UserError` naming ``argument`` unless a file can be written at ``path``
    (not a directory, not under /proc, /sys or /dev, its directory creatable and writable)."""
    if path is None:
        return
    full = Path(os.path.abspath(path))
    if _special(full):
        problem = _dir_problem(full)
    elif full.is_dir() or str(path).endswith(os.sep):
        problem = "is a directory; give a file name"
    else:
        problem = _dir_problem(full.parent)
    if problem:
        raise UserError(f"{argument} {path}: cannot write this file: {problem}")


def ensure_dir(path: str | Path) -> Path:
    """``mkdir -p``, an ``OSError`` becoming an :class:`OutputError` naming the directory."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _error(path, e) from e
    return path
