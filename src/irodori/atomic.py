"""Atomic file writes: a temp file next to the target, renamed into place only once it is complete.

A killed job or a failed write never leaves a partial file under the real name, and the result gets
the permissions a plain ``open`` would give (umask), not ``mkstemp``'s 0600. A temp name is never what makes
a legal name fail: it is cut to fit the file system's limit on a name. A target that is a symlink is written
through (the link stays, the file it points to is replaced); a target that exists but is not a regular file
(a device, a FIFO, a socket) is refused with an ``OSError`` instead of being replaced by a file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

from irodori.userfiles import NAME_MAX, kind

#: The random part ``mkstemp`` puts in a name.
_RANDOM_CHARS = 8


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def destination(path: str | os.PathLike) -> Path:
    """Where a write to ``path`` lands: the file a symlink points to, else ``path``. ``OSError`` when what
    is there is not a regular file (a folder, a device, a FIFO, a socket): a rename would replace it."""
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return path
    if not stat.S_ISREG(mode):
        folder = stat.S_ISDIR(mode)
        raise OSError(errno.EISDIR if folder else errno.EINVAL,
                      "it is a folder" if folder else f"it is {kind(mode)}, not a regular file", str(path))
    return path


def _temp_in(folder: Path, name: str, suffix: str) -> tuple[int, str]:
    """``mkstemp`` next to the target: ``.NAME.XXXXXXXX{suffix}``, NAME cut so the whole fits in a name."""
    room = NAME_MAX - len(os.fsencode(suffix)) - _RANDOM_CHARS - 2
    stem = os.fsencode(name)[:max(room, 1)].decode("utf-8", "ignore") or "t"
    return tempfile.mkstemp(dir=folder, prefix=f".{stem}.", suffix=suffix)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp"):
    """Yield a temp path next to ``path`` for a writer that wants a file name (safetensors, PIL, ...);
    on normal exit it is renamed to ``path``, on an exception removed. ``suffix`` lets writers that
    pick a format from the extension see the right one."""
    path = destination(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _temp_in(path.parent, path.name, suffix)
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

    A folder or a device in the way is refused before anything is written (symlinks are written through);
    if a write or rename fails, the files already renamed are removed and the temps deleted. Raises ``OSError``
    with ``filename`` set to the failing path."""
    files = [(destination(path), data) for path, data in files]
    temps: list[str] = []
    done: list[Path] = []
    current = files[0][0] if files else None
    try:
        for path, data in files:
            current = Path(path)
            current.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = _temp_in(current.parent, current.name, ".tmp")
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
