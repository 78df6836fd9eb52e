"""The illustration corpus: openly licensed, human-made drawings prepared like ``prepare openmoji``.

One module per source (:mod:`.openclipart`, :mod:`.dicebear`, :mod:`.portraits` for Wesnoth and
Naev), shared helpers in :mod:`.common`, exact line art from vector drawings in :mod:`.vector`,
near-duplicate removal in :mod:`.dedup`. :func:`prepare_all` builds every source into ``OUT/<source>``
and writes ``OUT/corpus.json``; :class:`irodori.data.corpus.CorpusPairs` reads the result.
"""

from __future__ import annotations

import json
import os
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from irodori.atomic import atomic_write_text
from irodori.data.openmoji import prepare_openmoji
from irodori.data.sources.common import SPLIT_NAMES, SourceResult, count_splits, read_manifest
from irodori.data.sources.dedup import choose_drops, close_pairs, dhash, load_grey, thumbnail
from irodori.data.sources.dicebear import prepare_dicebear
from irodori.data.sources.quality import check_pair
from irodori.data.sources.openclipart import prepare_openclipart
from irodori.data.sources.portraits import prepare_portraits
from irodori.errors import PrepareError

#: Every source in corpus order (earlier sources win same-split duplicates).
SOURCE_NAMES = ("openmoji", "openclipart", "dicebear", "wesnoth", "naev")
MAX_DISTANCE = 3
MAX_MAD = 4.0


def _prepare_openmoji(out, size=256, source=None, *, limit=None, workers=1, progress=True) -> SourceResult:
    r = prepare_openmoji(out, size=size, source=source, workers=workers, progress=progress)
    return SourceResult("openmoji", r.manifest, r.rendered, r.skipped, len(r.manifest["failed"]), r.seconds)


def _preparers() -> dict:
    return {"openmoji": _prepare_openmoji, "openclipart": prepare_openclipart, "dicebear": prepare_dicebear,
            "wesnoth": partial(prepare_portraits, "wesnoth"), "naev": partial(prepare_portraits, "naev")}


def prepare_source(name: str, out: str | os.PathLike, **kwargs) -> SourceResult:
    """Build ``OUT/<name>`` (see each source module for ``kwargs``: size, source, limit, workers, progress)."""
    preparers = _preparers()
    if name not in preparers:
        raise PrepareError(f"unknown source {name!r}; choose from {', '.join(SOURCE_NAMES)}")
    return preparers[name](Path(out) / name, **kwargs)


def _sub_source(source: str | os.PathLike | None, name: str) -> Path | None:
    """For ``prepare all --source DIR``: ``DIR/<name>`` when it exists, else None (fetch)."""
    if source is None:
        return None
    root = Path(source)
    if not root.is_dir():
        raise PrepareError(f"--source {root} must be a folder with one subfolder per source "
                          f"({', '.join(SOURCE_NAMES)}) for `prepare all`")
    return root / name if (root / name).exists() else None


def prepare_all(out: str | os.PathLike, *, size: int = 256, source=None, limits: dict | None = None,
                workers: int = 1, progress: bool = True, on_done=None) -> dict:
    """Every source, then :func:`dedupe_corpus`; returns the corpus summary (also ``OUT/corpus.json``)."""
    limits = limits or {}
    for name in SOURCE_NAMES:
        result = prepare_source(name, out, size=size, source=_sub_source(source, name), limit=limits.get(name),
                                workers=workers, progress=progress)
        if on_done:
            on_done(result)
    return dedupe_corpus(out)


def _mark_excluded(items: list[dict], colors: list, lines: list) -> list[dict]:
    """Mark every pair :func:`.quality.check_pair` rejects with ``excluded``; returns what it excluded."""
    excluded = []
    for it, color, line in zip(items, colors, lines):
        reason = "unreadable" if color is None else check_pair(color, line)
        if reason:
            it["record"]["excluded"] = reason
            excluded.append({"file": f"{it['source']}/{it['name']}", "split": it["split"], "reason": reason})
    return excluded


def _confirmed_pairs(images: list, max_distance: int, max_mad: float) -> list[tuple[int, int, int]]:
    """Near-duplicate pairs among ``images`` (None = absent): dHash within ``max_distance`` bits, confirmed
    by 32×32 thumbnails closer than ``max_mad`` grey levels."""
    hashes = np.array([dhash(im) if im is not None else 0 for im in images], dtype=np.uint64)
    thumbs = [thumbnail(im) if im is not None else None for im in images]
    return [(i, j, d) for i, j, d in close_pairs(hashes, max_distance)
            if thumbs[i] is not None and thumbs[j] is not None
            and float(np.abs(thumbs[i] - thumbs[j]).mean()) < max_mad]


def dedupe_corpus(out: str | os.PathLike, max_distance: int = MAX_DISTANCE, max_mad: float = MAX_MAD) -> dict:
    """Clean the corpus under ``out``: mark pairs that teach the wrong thing ``excluded``
    (:mod:`.quality`), then near-duplicates among the rest ``duplicate_of`` (:mod:`.dedup`), judged on the
    colour images and, where both files have one, on the line art too (two drawings with one line art
    and two colourings are one drawing); write the manifests and ``out/corpus.json``."""
    out = Path(out)
    manifests = {n: m for n in SOURCE_NAMES if (m := read_manifest(out / n)) is not None}
    items = []
    for name, m in manifests.items():
        for fname, rec in sorted(m["files"].items()):
            rec.pop("duplicate_of", None)
            rec.pop("excluded", None)
            items.append({"source": name, "name": fname, "group": rec.get("group", fname), "split": rec["split"],
                          "record": rec})
    colors = [_read_rgb(out / it["source"] / "color" / f"{it['name']}.png") for it in items]
    lines = load_grey([out / it["source"] / "black" / f"{it['name']}.png" for it in items])
    excluded = _mark_excluded(items, colors, lines)
    kept = [i for i, it in enumerate(items) if "excluded" not in it["record"]]
    grey = [cv2.cvtColor(colors[i], cv2.COLOR_RGB2GRAY) for i in kept]
    pairs = {}  # (i, j) -> hash distance; a colour pair wins over the same line-art pair
    for i, j, d in (*_confirmed_pairs(grey, max_distance, max_mad),
                    *_confirmed_pairs([lines[k] for k in kept], max_distance, max_mad)):
        pairs.setdefault((i, j), d)
    sub = [items[k] for k in kept]
    drops = choose_drops(sub, [(i, j, d) for (i, j), d in sorted(pairs.items())])
    dropped = []
    for i, (k, reason) in sorted(drops.items()):
        it, keep = sub[i], sub[k]
        ref = f"{keep['source']}/{keep['name']}"
        it["record"]["duplicate_of"] = ref
        dropped.append({"dropped": f"{it['source']}/{it['name']}", "split": it["split"], "duplicate_of": ref,
                        "kept_split": keep["split"], "distance": pairs.get((min(i, k), max(i, k))),
                        "reason": reason})
    counts = {}
    for name, m in manifests.items():
        m["counts"] = count_splits(m["files"])
        atomic_write_text(out / name / "manifest.json", json.dumps(m, indent=1, ensure_ascii=False) + "\n")
        counts[name] = m["counts"]
    summary = {
        "sources": counts,
        "total": {s: sum(c[s] for c in counts.values()) for s in SPLIT_NAMES},
        "licences": {n: m.get("licence", m.get("license", "?")) for n, m in manifests.items()},
        "excluded": {"rules": "irodori.data.sources.quality", "files": excluded},
        "near_duplicates": {"hash": "dHash 64-bit of the drawn content (9x8 greyscale, area filter), of the colour "
                                    "image and of the line art where both files have one",
                            "max_distance": max_distance, "confirm": f"32x32 thumbnail mean abs diff < {max_mad}",
                            "dropped": dropped},
    }
    atomic_write_text(out / "corpus.json", json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
    return summary


def _read_rgb(path: Path) -> np.ndarray | None:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return None if bgr is None else np.ascontiguousarray(bgr[..., ::-1])


__all__ = ["SOURCE_NAMES", "PrepareError", "SourceResult", "dedupe_corpus", "prepare_all", "prepare_source"]
