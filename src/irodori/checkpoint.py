"""Training checkpoints: one dict per file, written atomically, the newest named in a pointer file.

Files are ``ckpt-<step>.pt`` (step zero-padded). The resume position is read from inside the checkpoint
(its ``step``), never parsed from a file name; the name only orders the candidates, newest first, and
:func:`find_latest` takes the first one that loads, so a pointer that lags behind a complete newer file
(a kill between the two writes) loses nothing. ``latest.json`` lists the kept files newest last, for people
and tools; :func:`save_checkpoint` keeps the newest ``keep`` files whatever the pointer says, and
:func:`remove_stale_temps` clears the temp files a killed write leaves (called when a run starts or resumes).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from irodori.atomic import atomic_write_bytes, atomic_write_text
from irodori.errors import IrodoriError

CHECKPOINT_VERSION = 1
POINTER = "latest.json"
_NAME = re.compile(r"ckpt-(\d+)\.pt")
# irodori.atomic's temp files for this folder's files: ".<name>.<random>.tmp".
_TEMP = re.compile(r"\.(ckpt-\d+\.pt|" + re.escape(POINTER) + r")\..+\.tmp")


def checkpoint_name(step: int) -> str:
    return f"ckpt-{step:08d}.pt"


def kept_checkpoints(ckpt_dir: Path) -> list[tuple[int, Path]]:
    """The ``ckpt-<step>.pt`` files in ``ckpt_dir`` as (step in the name, path), newest first."""
    found = [(int(m.group(1)), p) for p in ckpt_dir.iterdir() if (m := _NAME.fullmatch(p.name)) and p.is_file()]
    return sorted(found, key=lambda item: item[0], reverse=True)


def save_checkpoint(ckpt_dir: Path, state: dict, keep: int) -> Path:
    """Write ``state`` as ``ckpt-<step>.pt`` and the pointer, then delete the older files beyond the newest
    ``keep`` (files named with a later step than this one, left by an abandoned future, are not touched)."""
    ckpt_dir = Path(ckpt_dir)
    step = int(state["step"])
    path = ckpt_dir / checkpoint_name(step)
    atomic_write_bytes(path, lambda f: torch.save(state, f))
    older = [p for s, p in kept_checkpoints(ckpt_dir) if s < step]
    keep = max(1, int(keep))
    kept, stale = [path] + older[:keep - 1], older[keep - 1:]
    history = [p.name for p in reversed(kept)]
    atomic_write_text(ckpt_dir / POINTER, json.dumps({"latest": path.name, "history": history}, indent=1))
    for old in stale:
        old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: Path) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - truncated or foreign file
        raise IrodoriError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION:
        raise IrodoriError(f"{path} is not an irodori training checkpoint (version {CHECKPOINT_VERSION})")
    return state


def load_latest(ckpt_dir: Path) -> tuple[dict, Path] | None:
    """The newest complete checkpoint and its path: the ``ckpt-<step>.pt`` files by the step in their names,
    newest first, the first that loads (read once: a resume uses what this read); None when there is none."""
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return None
    for _, path in kept_checkpoints(ckpt_dir):
        try:
            return load_checkpoint(path), path
        except IrodoriError:
            continue
    return None


def find_latest(ckpt_dir: Path) -> Path | None:
    """The path of :func:`load_latest`'s checkpoint, or None."""
    found = load_latest(ckpt_dir)
    return found[1] if found else None


def remove_stale_temps(ckpt_dir: Path, names: tuple[str, ...] | None = None) -> list[Path]:
    """Delete the temp files of checkpoint and pointer writes (or of the files ``names``, e.g. a run's
    ``config.yaml``) that never finished (a killed run leaves them); returns what it removed. Call it only
    where no write is in progress: when a run starts."""
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return []
    pattern = _TEMP if names is None else re.compile(r"\.(" + "|".join(map(re.escape, names)) + r")\..+\.tmp")
    removed = []
    for path in ckpt_dir.iterdir():
        if pattern.fullmatch(path.name) and path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
