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
