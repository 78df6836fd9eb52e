"""Near-duplicates across the corpus: a 64-bit difference hash (dHash) of every colour image.

dHash: the image in greyscale, cropped to its drawn content (pixels darker than 250), shrunk (area
filter) to 9×8, one bit per horizontally adjacent pair (left brighter than right). Two images whose
hashes differ in at most ``max_distance`` bits are candidates; they are near-duplicates when their
32×32 greyscale thumbnails also differ by less than ``max_mad`` grey levels on average (the 64-bit hash
alone pairs unrelated small drawings on white). Variants of one drawing (same source and group) are
meant to be alike and are not compared. Near-duplicates form clusters (connected pairs); each cluster
keeps one image, the one in the earliest split (train < val < test), then earliest in corpus order
(source order, then name), and drops the others. Dropped files stay on disk and are marked in their
source's manifest with ``duplicate_of``; datasets skip them.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

SPLIT_RANK = {"train": 0, "val": 1, "test": 2}


def _content(grey: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(grey < 250)
    return grey[ys.min():ys.max() + 1, xs.min():xs.max() + 1] if len(ys) else grey


def dhash(image: np.ndarray) -> int:
    """64-bit difference hash of an RGB or greyscale ``uint8`` image (of its drawn content)."""
    grey = _content(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image)
    small = cv2.resize(grey.astype(np.float32), (9, 8), interpolation=cv2.INTER_AREA)
    bits = (small[:, :-1] > small[:, 1:]).ravel()
    return int(np.packbits(bits).view(">u8")[0])


def hamming(a: int, b: int) -> int:
    return int(a ^ b).bit_count()


def close_pairs(hashes: np.ndarray, max_distance: int, chunk: int = 512) -> list[tuple[int, int, int]]:
    """``(i, j, distance)`` with ``i < j`` for every pair of hashes within ``max_distance`` bits."""
    hashes = hashes.astype(np.uint64)
    pairs = []
    for start in range(0, len(hashes), chunk):
        block = hashes[start:start + chunk, None] ^ hashes[None, :]
        dist = np.bitwise_count(block)
        ii, jj = np.nonzero(dist <= max_distance)
        for i, j in zip(ii + start, jj):
            if i < j:
                pairs.append((int(i), int(j), int(dist[i - start, j])))
    return pairs


def thumbnail(image: np.ndarray) -> np.ndarray:
    """32×32 greyscale float thumbnail (area filter) for confirming a hash match."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    return cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)


def _root(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def choose_drops(items: list[dict], pairs: list[tuple[int, int, int]]) -> dict[int, tuple[int, str]]:
    """``dropped index -> (kept index, reason)`` from the near-duplicate ``pairs``. ``items`` are in corpus
    order, each with ``source``, ``group`` and ``split``; pairs within one source group are ignored."""
    parent = list(range(len(items)))
    for i, j, _ in pairs:
        if (items[i]["source"], items[i]["group"]) != (items[j]["source"], items[j]["group"]):
            parent[_root(parent, j)] = _root(parent, i)
    clusters: dict[int, list[int]] = {}
    for i in {k for i, j, _ in pairs for k in (i, j)}:
        clusters.setdefault(_root(parent, i), []).append(i)
    drops = {}
    for members in clusters.values():
        keep = min(members, key=lambda k: (SPLIT_RANK[items[k]["split"]], k))
        for k in members:
            if k != keep:
                same = items[k]["split"] == items[keep]["split"]
                drops[k] = (keep, "same split" if same else "across splits")
    return drops


def load_grey(paths: list[Path]) -> list[np.ndarray | None]:
    """Each file as greyscale ``uint8``; None for a file that is missing (a source without line art) or unreadable."""
    return [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) if p.is_file() else None for p in paths]
