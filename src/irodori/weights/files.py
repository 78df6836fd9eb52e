"""Where weight files are kept, and the SHA-256 of a file's bytes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def cache_dir() -> Path:
    """``$IRODORI_CACHE``, default ``~/.cache/irodori``: downloaded and converted weight files, FID statistics."""
    return Path(os.environ.get("IRODORI_CACHE") or Path.home() / ".cache" / "irodori")


def torch_hub_dir() -> Path:
    """torch hub's checkpoint cache, ``$TORCH_HOME/hub/checkpoints`` (default ``~/.cache/torch/hub/checkpoints``)."""
    home = os.environ.get("TORCH_HOME") or Path.home() / ".cache" / "torch"
    return Path(home) / "hub" / "checkpoints"


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
