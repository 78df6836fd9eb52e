"""Hints for the region metrics: one dot deep inside each of the largest closed regions of a drawing.

``region_fill`` and ``bleed`` (:mod:`irodori.eval.metrics`) ask whether a hint fills its region and stays
inside it, which only has a right answer where the outlines close. The regions are those of the metrics
(4-connected ink-free pixels); those touching the image edge (the background) are never hinted. The
``count`` largest regions of at least ``min_frac`` of the image each get a square dot of side ``dot``
centred on their deepest pixel (farthest from ink), colored with the ground truth's median there.
Deterministic: no random draw.
"""

from __future__ import annotations

import cv2
import numpy as np

from irodori.eval.metrics import LINE_THRESHOLD, line_regions


def closed_region_dots(line: np.ndarray, truth: np.ndarray, count: int = 6, min_frac: float = 0.002,
                       dot: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(hint H×W×3 in [0, 1], mask H×W in {0, 1}) for line art ``line`` (H×W in [0, 1]) and ``truth``."""
    h, w = line.shape
    dot = max(3, round(max(h, w) / 64)) if dot is None else dot
    labels = line_regions(line)
    n = int(labels.max())
    hint = np.zeros((h, w, 3), np.float32)
    mask = np.zeros((h, w), np.float32)
    if n == 0:
        return hint, mask
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    area = np.bincount(labels.ravel(), minlength=n + 1)
    area[0] = 0
    area[edge] = 0
    order = [lab for lab in np.argsort(-area, kind="stable") if area[lab] >= max(1, min_frac * h * w)][:count]
    ink = line < LINE_THRESHOLD
    dist = cv2.distanceTransform((~ink).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    r = dot // 2
    for lab in order:
        region = labels == lab
        y, x = np.unravel_index(int(np.argmax(np.where(region, dist, -1))), region.shape)
        color = np.median(truth[region & (dist >= min(3.0, dist[y, x]))], axis=0)
        ys, xs = slice(max(0, y - r), y + r + 1), slice(max(0, x - r), x + r + 1)
        inside = region[ys, xs]
        hint[ys, xs][inside] = color
        mask[ys, xs][inside] = 1
    return hint, mask
