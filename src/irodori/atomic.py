"""Atomic file writes: a temp file next to the target, renamed into place only once it is complete.

A killed job or a failed write never leaves a partial file under the real name, and the result gets
the permissions a plain ``open`` would give (umask), not ``mkstemp``'s 0600.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp"):
    """Yield a temp path next to ``path`` for a writer that wants a file name (safetensors, PIL, ...);
    on normal exit it is renamed to ``path``, on an exception removed. ``suffix`` lets writers that
    pick a format from the extension see the right one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.fchmod(fd, _umask_mode())
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_bytes(path: str | os.PathLike, write_fn) -> None:
    """Call ``write_fn(file_object)`` on a temp file next to ``path``, fsync it, and rename it into place."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        write_fn(f)
        f.flush()
        os.fsync(f.fileno())


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, lambda f: f.write(text.encode()))


def atomic_write_files(files: list[tuple[Path, bytes]]) -> None:
    """Write a set of files all or nothing: each to a temp file next to it, then all renamed into place.

    A folder in the way is refused before anything is written; if a write or rename fails, the files already
    renamed are removed and the temps deleted. Raises ``OSError`` with ``filename`` set to the failing path."""
    for path, _ in files:
        if Path(path).is_dir():
            raise IsADirectoryError(21, "it is a folder", str(path))
    temps: list[str] = []
    done: list[Path] = []
    current = files[0][0] if files else None
    try:
        for path, data in files:
            current = Path(path)
            current.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=current.parent, prefix=f".{current.name}.", suffix=".tmp")
            temps.append(tmp)
            os.fchmod(fd, _umask_mode())
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        for (path, _), tmp in zip(files, temps):
            current = Path(path)
            os.replace(tmp, current)
            done.append(current)
    except OSError as exc:
        for path in done:
            path.unlink(missing_ok=True)
        exc.filename = str(current)
        raise
    finally:
        for tmp in temps:
            if os.path.exists(tmp):
                os.unlink(tmp)
