"""Train / val / test splits: deterministic, by a hash of each item's key (no list to keep in sync)."""

from __future__ import annotations

import hashlib

from irodori.errors import ConfigError

SPLITS = ("train", "val", "test", "all")


def hash_split(key: str, buckets: int = 10) -> str:
    """Deterministic split of an item by the SHA-1 of its key.

    ``int(sha1(key)[:8], 16) % buckets`` is 0 -> "test", 1 -> "val", else "train"
    (10 buckets: 10% / 10% / 80%; 100 buckets: 1% / 1% / 98%).
    """
    bucket = int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16) % buckets
    return "test" if bucket == 0 else "val" if bucket == 1 else "train"


def is_kept(record: dict) -> bool:
    """Whether a corpus manifest's file record is used at all: not a near-duplicate of another file
    (``duplicate_of``) and not a pair that teaches the wrong thing (``excluded``; see
    :mod:`irodori.data.sources.quality`). Both are marked by ``irodori prepare all``."""
    return "duplicate_of" not in record and "excluded" not in record


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    return split
