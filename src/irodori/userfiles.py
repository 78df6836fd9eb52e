"""Files the user names on a command line: checked before they are used, so each problem is one clear line.

* Names are checked against the file system's limits (bytes per name, bytes per path) before any call that
  would fail on them with a traceback.
* Only regular files are read: a FIFO or a device given as a file would block forever or never end
  (``/dev/zero``), so they are refused by kind ("is a FIFO, not a regular file"), without opening them
  for longer than a non-blocking ``open`` + ``fstat``.
* An output may be a new name or an existing regular file (or a symlink to one: it is written through);
  a folder, a device, a FIFO or a socket in its place is refused.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from irodori.errors import InputError

#: Used where the file system does not say (``os.pathconf``): Linux's NAME_MAX and PATH_MAX.
NAME_MAX, PATH_MAX = 255, 4096


def kind(mode: int) -> str:
    """What a ``stat`` mode names, as a phrase: "a folder", "a FIFO (named pipe)", "a character device"..."""
    for test, name in ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a folder"),
                       (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def _limit(path: bytes, name: str, default: int) -> int:
    """``os.pathconf`` of the nearest existing folder above ``path``, else ``default``."""
    folder = os.path.dirname(os.path.abspath(path)) if len(path) < PATH_MAX else b"/"
    while folder and not os.path.isdir(folder):
        folder = os.path.dirname(folder)
    try:
        return os.pathconf(folder or b"/", name)
    except (OSError, ValueError):
        return default


def name_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` cannot name a file here (a NUL, a name or the whole path over the file system's limits),
    or None."""
    raw = os.fsencode(path)
    if b"\0" in raw:
        return "it contains a NUL character"
    path_max = _limit(raw, "PC_PATH_MAX", PATH_MAX)
    if len(raw) >= path_max:
        return f"the path is {len(raw)} bytes long, over the limit of {path_max - 1}"
    name_max = _limit(raw, "PC_NAME_MAX", NAME_MAX)
    longest = max((len(part) for part in raw.split(b"/")), default=0)
    if longest > name_max:
        return f"a name in it is {longest} bytes long, over the file system's limit of {name_max} bytes per name"
    return None


def regular_file(path: str | os.PathLike, what: str, error: type[Exception] = InputError) -> Path:
    """``path`` as a :class:`Path` if it names an existing regular file (through symlinks); else ``error``
    saying why in one line (``what`` names the role: "hint file", "config file")."""
    problem = name_problem(path)
    if problem:
        raise error(f"{what} {shown(path)}: {problem}")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise error(f"{what} {shown(path)} does not exist") from None
    except OSError as exc:
        raise error(f"{what} {shown(path)}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{what} {shown(path)} is {kind(st.st_mode)}, not a regular file")
    return Path(path)


def read_bytes(path: str | os.PathLike, what: str, error: type[Exception] = InputError) -> bytes:
    """The contents of the regular file ``path``: checked first (:func:`regular_file`), then opened without
    blocking and checked again on the open file (it may have been swapped for a FIFO in between)."""
    regular_file(path, what, error)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise error(f"cannot read {what} {shown(path)}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise error(f"{what} {shown(path)} is {kind(mode)}, not a regular file")
        os.set_blocking(fd, True)
        try:
            return f.read()
        except OSError as exc:
            raise error(f"cannot read {what} {shown(path)}: {exc.strerror or exc}") from None


def read_text(path: str | os.PathLike, what: str, error: type[Exception] = InputError) -> str:
    """:func:`read_bytes` decoded as UTF-8 (a byte-order mark is dropped)."""
    try:
        return read_bytes(path, what, error).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{what} {shown(path)} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def output_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` cannot be written as a file (its name, a folder or a device in its place, a file where a
    folder above it should be), or None. A symlink is judged by what it points to (outputs are written
    through links)."""
    problem = name_problem(path)
    if problem:
        return problem
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        return "a part of its folder is not a folder"
    except OSError as exc:
        return exc.strerror or str(exc)
    if st is not None and not stat.S_ISREG(st.st_mode):
        return f"it is {kind(st.st_mode)}" + ("" if stat.S_ISDIR(st.st_mode) else ", not a regular file")
    return None


def shown(path, limit: int = 120) -> str:
    """A path for a one-line message: over ``limit`` characters, its start and end."""
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return text if len(text) <= limit else f"{text[:limit // 2]}...{text[-limit // 2:]}"
