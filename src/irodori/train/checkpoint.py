"""Training checkpoints: one dict per file, written atomically, the newest named in a pointer file.

The resume position is read from inside the checkpoint (its ``step``), never parsed
from a file name; ``latest.json`` lists the kept files newest last.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from irodori.atomic import atomic_write_bytes, atomic_write_text
from irodori.errors import IrodoriError

CHECKPOINT_VERSION = 1
POINTER = "latest.json"


def _read_pointer(ckpt_dir: Path) -> list[str]:
    try:
        return list(json.loads((ckpt_dir / POINTER).read_text())["history"])
    except (OSError, ValueError, KeyError, TypeError):
        return []


def save_checkpoint(ckpt_dir: Path, state: dict, keep: int) -> Path:
    ckpt_dir = Path(ckpt_dir)
    name = f"ckpt-{state['step']:08d}.pt"
    atomic_write_bytes(ckpt_dir / name, lambda f: torch.save(state, f))
    history = [h for h in _read_pointer(ckpt_dir) if h != name] + [name]
    stale, history = history[:-keep], history[-keep:]
    atomic_write_text(ckpt_dir / POINTER, json.dumps({"latest": name, "history": history}, indent=1))
    for old in stale:
        (ckpt_dir / old).unlink(missing_ok=True)
    return ckpt_dir / name


def load_checkpoint(path: Path) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - truncated or foreign file
        raise IrodoriError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION:
        raise IrodoriError(f"{path} is not an irodori training checkpoint (version {CHECKPOINT_VERSION})")
    return state


def find_latest(ckpt_dir: Path) -> Path | None:
    """The newest readable checkpoint: the pointer's entries newest first, then any other file."""
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return None
    names = _read_pointer(ckpt_dir)[::-1]
    others = sorted((p.name for p in ckpt_dir.glob("ckpt-*.pt") if p.name not in names),
                    key=lambda n: (ckpt_dir / n).stat().st_mtime, reverse=True)
    for name in names + others:
        path = ckpt_dir / name
        if path.is_file():
            try:
                load_checkpoint(path)
                return path
            except IrodoriError:
                continue
    return None
