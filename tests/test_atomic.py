"""Atomic writes: complete file or none, with umask permissions."""

import os
import stat

import pytest

from irodori.atomic import atomic_path, atomic_write_bytes, atomic_write_text


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_written_files_get_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a" / "x.txt", "hello")
        with atomic_path(tmp_path / "y.png", suffix=".png") as tmp:
            assert tmp.suffix == ".png" and tmp.parent == tmp_path
            tmp.write_bytes(b"data")
    finally:
        os.umask(old)
    assert (tmp_path / "a" / "x.txt").read_text() == "hello" and _mode(tmp_path / "a" / "x.txt") == 0o644
    assert (tmp_path / "y.png").read_bytes() == b"data" and _mode(tmp_path / "y.png") == 0o644


def test_a_failed_write_leaves_nothing_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "state.bin"
    target.write_bytes(b"old")

    def boom(f):
        f.write(b"half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        atomic_write_bytes(target, boom)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.bin"]  # no temp file left behind
