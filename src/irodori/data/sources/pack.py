"""A size-capped copy of a corpus (train and val splits only) for shipping to a training machine.

``python -m irodori.data.sources.pack CORPUS DEST --max-mib 45``

Files are re-encoded (``optimize=True``; line art as mode ``L``) and taken from the sources in turn:
each next file comes from the source furthest below its share of the budget (:data:`SHARES`, in a
fixed pseudo-random order of its files), until the budget is full or every file is in. The result
has the corpus layout (``DEST/<source>/color``, ``black``, ``manifest.json`` listing only the copied
files, ``ATTRIBUTION.md``) so :class:`~irodori.data.corpus.CorpusPairs` reads it directly;
``DEST/pack.json`` says what was kept and dropped per source.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import sys
from pathlib import Path

from PIL import Image

from irodori.atomic import atomic_write_bytes, atomic_write_text
from irodori.data.sources.common import count_splits, read_manifest
from irodori.data.splits import is_kept

SHARES = {"openclipart": 0.3, "dicebear": 0.25, "wesnoth": 0.2, "openmoji": 0.15, "naev": 0.1}


def encode_png(path: Path, grey: bool) -> bytes:
    with Image.open(path) as im:
        im = im.convert("L" if grey else "RGB")
        buf = io.BytesIO()
        im.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _order(names: list[str]) -> list[str]:
    return sorted(names, key=lambda n: hashlib.sha1(n.encode()).hexdigest())


def tree_bytes(root: Path) -> int:
    """What ``du -sb`` reports: the apparent sizes of every file and folder."""
    return sum(p.stat().st_size for p in [root, *root.rglob("*")])


def _write_manifests(corpus: Path, dest: Path, manifests: dict, taken: dict, splits) -> None:
    for n, m in manifests.items():
        files = {k: m["files"][k] for k in sorted(taken[n])}
        small = {k: v for k, v in m.items() if k not in ("files", "rejected", "scores", "counts")}
        atomic_write_text(dest / n / "manifest.json", json.dumps(
            {**small, "counts": count_splits(files), "packed_from": str(corpus / n), "packed_splits": list(splits),
             "files": files}, indent=1, ensure_ascii=False) + "\n")
        if (corpus / n / "ATTRIBUTION.md").is_file():
            shutil.copyfile(corpus / n / "ATTRIBUTION.md", dest / n / "ATTRIBUTION.md")


def _fill(corpus: Path, dest: Path, queues: dict, shares: dict, max_bytes: int) -> tuple[dict, dict]:
    """Copy files source by source (the one furthest below its share next) while they fit."""
    used = {n: 0 for n in queues}
    taken: dict[str, list[str]] = {n: [] for n in queues}
    full: set[str] = set()
    while open_sources := [n for n in queues if queues[n] and n not in full]:
        n = min(open_sources, key=lambda s: used[s] / shares[s])
        name = queues[n].pop(0)
        blobs = {"color": encode_png(corpus / n / "color" / f"{name}.png", grey=False)}
        if (corpus / n / "black" / f"{name}.png").is_file():
            blobs["black"] = encode_png(corpus / n / "black" / f"{name}.png", grey=True)
        size = sum(len(b) for b in blobs.values())
        if sum(used.values()) + size > max_bytes:
            full.add(n)
            continue
        for sub, blob in blobs.items():
            atomic_write_bytes(dest / n / sub / f"{name}.png", lambda f, b=blob: f.write(b))
        used[n] += size
        taken[n].append(name)
    return used, taken


def pack_corpus(corpus: Path, dest: Path, max_bytes: int, splits=("train", "val"), shares=None) -> dict:
    """Copy ``corpus`` into a fresh ``dest`` of at most ``max_bytes`` (``du -sb``; see the module
    docstring); returns the summary."""
    shares = dict(shares or SHARES)
    manifests = {n: m for n in shares if (m := read_manifest(corpus / n)) is not None}
    queues = {n: _order([k for k, r in m["files"].items() if r["split"] in splits and is_kept(r)])
              for n, m in manifests.items()}
    available = {n: len(q) for n, q in queues.items()}
    if dest.exists():
        shutil.rmtree(dest)
    used, taken = _fill(corpus, dest, queues, shares, max_bytes)
    _write_manifests(corpus, dest, manifests, taken, splits)
    while tree_bytes(dest) + 4096 > max_bytes:  # folders and manifests: give back the last files taken
        n = max((s for s in taken if taken[s]), key=lambda s: used[s] / shares[s])
        name = taken[n].pop()
        for sub in ("color", "black"):
            path = dest / n / sub / f"{name}.png"
            if path.is_file():
                used[n] -= path.stat().st_size
                path.unlink()
        _write_manifests(corpus, dest, manifests, taken, splits)
    summary = {"max_bytes": max_bytes, "splits": list(splits), "shares": shares, "sources": {}}
    for n in manifests:
        summary["sources"][n] = {"kept": count_splits({k: manifests[n]["files"][k] for k in taken[n]}),
                                 "available": available[n], "dropped": available[n] - len(taken[n]),
                                 "bytes": used[n]}
    atomic_write_text(dest / "pack.json", json.dumps(summary, indent=1) + "\n")
    return summary


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m irodori.data.sources.pack", description=__doc__.splitlines()[0])
    p.add_argument("corpus", type=Path)
    p.add_argument("dest", type=Path)
    p.add_argument("--max-mib", type=float, default=45.0)
    args = p.parse_args(argv)
    summary = pack_corpus(args.corpus, args.dest, int(args.max_mib * 2**20))
    for n, s in summary["sources"].items():
        print(f"{n}: kept {s['kept']} ({s['bytes'] / 2**20:.1f} MiB), dropped {s['dropped']} of {s['available']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
