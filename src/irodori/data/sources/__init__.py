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

import numpy as np

from irodori.atomic import atomic_write_text
from irodori.data.openmoji import prepare_openmoji
from irodori.data.sources.common import SPLIT_NAMES, SourceResult, count_splits, read_manifest
from irodori.data.sources.dedup import choose_drops, close_pairs, dhash, hamming, load_grey, thumbnail
from irodori.data.sources.dicebear import prepare_dicebear
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


def dedupe_corpus(out: str | os.PathLike, max_distance: int = MAX_DISTANCE, max_mad: float = MAX_MAD) -> dict:
    """Mark near-duplicate colour images (see :mod:`.dedup`) in the manifests under ``out`` and write
    ``out/corpus.json`` with the counts per source and split and the dropped files."""
    out = Path(out)
    manifests = {n: m for n in SOURCE_NAMES if (m := read_manifest(out / n)) is not None}
    items = []
    for name, m in manifests.items():
        for fname, rec in sorted(m["files"].items()):
            rec.pop("duplicate_of", None)
            items.append({"source": name, "name": fname, "group": rec.get("group", fname), "split": rec["split"]})
    images = load_grey([out / it["source"] / "color" / f"{it['name']}.png" for it in items])
    hashes = np.array([dhash(im) if im is not None else 0 for im in images], dtype=np.uint64)
    thumbs = [thumbnail(im) if im is not None else None for im in images]
    confirmed = [(i, j, d) for i, j, d in close_pairs(hashes, max_distance)
                 if thumbs[i] is not None and thumbs[j] is not None
                 and float(np.abs(thumbs[i] - thumbs[j]).mean()) < max_mad]
    drops = choose_drops(items, confirmed)
    dropped = []
    for i, (k, reason) in sorted(drops.items()):
        it, kept = items[i], items[k]
        ref = f"{kept['source']}/{kept['name']}"
        manifests[it["source"]]["files"][it["name"]]["duplicate_of"] = ref
        dropped.append({"dropped": f"{it['source']}/{it['name']}", "split": it["split"], "duplicate_of": ref,
                        "kept_split": kept["split"], "distance": hamming(int(hashes[i]), int(hashes[k])),
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
        "near_duplicates": {"hash": "dHash 64-bit of the drawn content (9x8 greyscale, area filter)",
                            "max_distance": max_distance, "confirm": f"32x32 thumbnail mean abs diff < {max_mad}",
                            "dropped": dropped},
    }
    atomic_write_text(out / "corpus.json", json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
    return summary


__all__ = ["SOURCE_NAMES", "PrepareError", "SourceResult", "dedupe_corpus", "prepare_all", "prepare_source"]
