"""Line-art regions: the fillable areas the lines draw, with small gaps in the lines closed.

An artist reads a hint as "this region is this color"; this module finds the regions. Ink is where the
line art is darker than a threshold set halfway between its paper and its darkest ink (so grey and
anti-aliased lines count), and the ink-free pixels are split by *trapped-ball filling*: the free space
is eroded by a disc of radius ``R`` (``2R + 1 > max_gap``); each connected piece left is a ball that
cannot pass through any gap of up to ``max_gap`` px, so it founds a region, grown back by ``R`` inside
the free space. What is still unlabelled is split into connected pieces: a piece that touches a region
already found (its narrow end, or the channel through a gap) founds a region only when large, any other
(a narrow region of its own) when at least ``min_area``. The rest and the ink join the nearest region,
and regions smaller than ``min_area`` merge into their nearest neighbours. Pure OpenCV/numpy,
deterministic, a few passes over the pixels.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np

#: The widest line gap (px) a caller may ask regions to close, inclusive.
MAX_GAP_RANGE = (0, 64)

#: The darkest line art value that still counts as paper when the drawing has no real ink.
MIN_CONTRAST = 0.25


@dataclass(frozen=True)
class Regions:
    """``labels``: H×W int32, every pixel (ink included) in a region 1..``count``; ``ink``: H×W bool;
    ``border``: bool per label (index 0 unused), True for regions touching the image edge (the outer
    background); ``area``: pixel count per label (index 0 unused)."""

    labels: np.ndarray
    ink: np.ndarray
    border: np.ndarray
    area: np.ndarray

    @property
    def count(self) -> int:
        return int(self.area.shape[0] - 1)


def default_max_gap(height: int, width: int) -> int:
    """Gap width closed by default: 4 px at 256 px (OpenMoji's outlines open that much where two shapes
    meet), growing with the image up to 12 px."""
    return int(np.clip(round(max(height, width) / 64), 3, 12))


def ink_mask(line: np.ndarray) -> np.ndarray:
    """Ink pixels of line art in [0, 1] (white paper = 1): darker than halfway between paper and ink.

    Paper is the 90th percentile and ink the 0.2th, so grey or anti-aliased lines are found as well as
    black ones; without that much contrast, ink is what is darker than 0.5."""
    line = np.asarray(line, np.float32)
    paper, dark = np.percentile(line, [90, 0.2]) if line.size else (1.0, 1.0)
    if paper - dark < MIN_CONTRAST:  # no clear ink level: only what is darker than mid-grey
        return line < 0.5
    return line < min(0.5 * (paper + dark), 0.9)


def _disc(r: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def _nearest(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(every pixel labelled with the label of its nearest labelled pixel, the distance to it in px)."""
    seeds = labels > 0
    if seeds.all() or not seeds.any():
        return labels, None
    dist, idx = cv2.distanceTransformWithLabels((~seeds).astype(np.uint8), cv2.DIST_L2, 5,
                                                labelType=cv2.DIST_LABEL_PIXEL)
    # DIST_LABEL_PIXEL numbers the zero (seed) pixels 1..n in raster order.
    return labels[seeds][idx - 1].astype(np.int32), dist


def _nearest_labels(labels: np.ndarray) -> np.ndarray:
    return _nearest(labels)[0]


def _balls(free: np.ndarray, labels: np.ndarray, r: int, next_label: int, min_seed: int,
           min_touching: int) -> int:
    """One trapped-ball pass at radius ``r`` over the unlabelled free space; returns the next free label.

    A ball in a piece of free space that touches a region already found (the narrow end of that region,
    or the channel through a gap) founds a region only when its core covers ``min_touching`` px."""
    todo = (free & (labels == 0)).astype(np.uint8)
    # where a disc of radius r fits: farther than r from anything outside the free space (an erosion)
    core = (cv2.distanceTransform(todo, cv2.DIST_L2, 5) > r).astype(np.uint8) if r > 0 else todo
    n, comp, stats, _ = cv2.connectedComponentsWithStats(core, connectivity=4)
    area = stats[:, cv2.CC_STAT_AREA]
    big = area >= min_seed
    if next_label > 1:
        _, piece = cv2.connectedComponents(todo, connectivity=4)
        found = cv2.dilate((labels > 0).astype(np.uint8), _disc(1)).astype(bool)
        touching = np.zeros(piece.max() + 1, bool)
        touching[np.unique(piece[found & (piece > 0)])] = True
        # each core lies inside one piece: its piece id is the mean of piece ids over the core
        core_piece = np.rint(np.bincount(comp.ravel(), piece.ravel(), n) / np.maximum(area, 1)).astype(np.int64)
        big &= ~touching[core_piece] | (area >= min_touching)
    keep = np.flatnonzero(big[1:]) + 1
    if keep.size == 0:
        return next_label
    lut = np.zeros(n, np.int32)
    lut[keep] = np.arange(next_label, next_label + keep.size, dtype=np.int32)
    seeds = lut[comp]
    if r > 0:  # grow each ball back by r (a dilation), only inside the free space it was eroded from
        grown, dist = _nearest(seeds)
        if dist is not None:
            seeds = np.where((dist <= r + 0.5) & todo.astype(bool), grown, 0)
    labels[seeds > 0] = seeds[seeds > 0]
    return next_label + keep.size


def _merge_small(labels: np.ndarray, min_area: int) -> np.ndarray:
    """Regions under ``min_area`` px (of free space) and every unlabelled pixel (ink, what no ball reached)
    handed to the nearest region; labels renumbered 1..n."""
    area = np.bincount(labels.ravel())
    small = area < min_area
    small[0] = True
    if small[1:].all():  # everything is tiny: keep the largest region
        small[int(np.argmax(area[1:])) + 1] = False
    labels = np.where(small[labels], 0, labels)
    labels = _nearest_labels(labels)
    present = np.bincount(labels.ravel()) > 0
    lut = np.cumsum(present).astype(np.int32)  # label -> 1..n in order of appearance of the label value
    return lut[labels]


def segment(line: np.ndarray, max_gap: int | None = None, min_area: int | None = None) -> Regions:
    """Split line art (H×W float in [0, 1], white = 1) into regions; see the module docstring.

    ``max_gap``: widest gap in a line (px) that still separates two regions (default
    :func:`default_max_gap`); ``min_area``: smaller regions merge into a neighbour (default 0.02% of
    the image, at least 4 px)."""
    line = np.asarray(line, np.float32)
    if line.ndim != 2 or min(line.shape) < 1:
        raise ValueError(f"line art must be a 2-D array, got shape {line.shape}")
    h, w = line.shape
    max_gap = default_max_gap(h, w) if max_gap is None else int(max_gap)
    min_area = max(4, round(2e-4 * h * w)) if min_area is None else int(min_area)
    ink = ink_mask(line)
    free = ~ink
    labels = np.zeros((h, w), np.int32)
    next_label = 1
    big_r = (max(max_gap, 0) + 1) // 2  # the smallest ball wider than the gap; 0: plain connected pieces
    min_touching = max(min_area, (2 * big_r + 1) ** 2)
    for r in sorted({big_r, 0}, reverse=True):  # r = 0: pieces no ball reached (narrow regions), if big enough
        min_seed = max(1, min_area // (4 * r * r + 1)) if r else min_area
        next_label = _balls(free, labels, r, next_label, min_seed, min_touching)
    if next_label == 1:  # no free space at all
        labels[:] = 1
    labels = _merge_small(labels, min_area)
    count = int(labels.max())
    area = np.bincount(labels.ravel(), minlength=count + 1)
    edge = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    border = np.zeros(count + 1, bool)
    border[np.unique(edge)] = True
    border[0] = False
    return Regions(labels, ink, border, area)


def depth(regions: Regions) -> np.ndarray:
    """Distance (px) of every pixel to the nearest ink or region boundary: how deep inside its region."""
    lab = regions.labels
    edge = regions.ink.copy()
    edge[:, 1:] |= lab[:, 1:] != lab[:, :-1]
    edge[1:, :] |= lab[1:, :] != lab[:-1, :]
    if not edge.any():
        return np.full(lab.shape, float(max(lab.shape)), np.float32)
    return cv2.distanceTransform((~edge).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


class SegmentCache:
    """The last segmentations (:func:`segment`), keyed by the line art's pixels and the gap, up to
    ``max_pixels`` pixels of line art in all: a drawing's regions are found once while only its hints and
    shading change (the server's previews; the page without a server keeps them the same way). The cached
    arrays are read-only. Safe to share between threads."""

    def __init__(self, max_pixels: int = 8_000_000):
        self.max_pixels = max_pixels
        self._items: OrderedDict[tuple, Regions] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, line: np.ndarray, max_gap: int | None = None) -> Regions:
        line = np.ascontiguousarray(line, np.float32)
        key = (line.shape, max_gap, hashlib.blake2b(line.data, digest_size=16).digest())
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        regions = segment(line, max_gap)
        if line.size > self.max_pixels:
            return regions
        for array in (regions.labels, regions.ink, regions.border, regions.area):
            array.flags.writeable = False
        with self._lock:
            self._items[key] = regions
            while sum(r.labels.size for r in self._items.values()) > self.max_pixels:
                self._items.popitem(last=False)
        return regions
