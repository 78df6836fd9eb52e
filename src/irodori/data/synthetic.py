"""Procedural illustrations (no files): filled colored shapes with dark outlines on white."""

from __future__ import annotations

import cv2
import numpy as np

from irodori.data.datasets import SampleDataset
from irodori.data.sample import make_sample
from irodori.data.splits import check_split
from irodori.errors import ConfigError


class SyntheticShapes(SampleDataset):
    """Procedural illustrations, no files: a few filled colored shapes with dark outlines on white.

    The line art is extracted by the configured mixture. ``split`` other than "train" draws from
    a separate stream (``[seed, epoch, index, 1 or 2]``) so val/test never repeat training images.
    """

    def __init__(self, n: int = 256, size: int = 512, seed: int = 0, *, split: str = "train", **spec):
        super().__init__(seed, size=size, **spec)
        if n < 1:
            raise ConfigError(f"SyntheticShapes needs n >= 1, got {n}")
        self.n = int(n)
        self.split = check_split(split)

    def __len__(self) -> int:
        return self.n

    def rng_key(self, epoch: int, index: int) -> list[int]:
        extra = {"val": [1], "test": [2]}.get(self.split, [])
        return [self.seed, epoch, index, *extra]

    def sample(self, index, rng):
        color = draw_shapes(self.spec.size, rng)
        if rng.random() < 0.5:
            color = np.ascontiguousarray(color[:, ::-1])
        return make_sample(color, rng, self.spec)


def draw_shapes(size: int, rng: np.random.Generator, max_shapes: int = 6) -> np.ndarray:
    """A ``size×size×3 uint8`` drawing: 2..max_shapes filled circles, ellipses and polygons with dark,
    anti-aliased outlines on white (later shapes overlap earlier ones)."""
    canvas = np.full((size, size, 3), 255, np.uint8)
    n = int(rng.integers(2, max_shapes, endpoint=True))
    outline = max(1, round(size / 128))
    for _ in range(n):
        color = tuple(int(c) for c in rng.integers(30, 256, size=3))
        ink = tuple(int(c) for c in rng.integers(0, 40, size=1).repeat(3))
        width = int(rng.integers(outline, 2 * outline, endpoint=True))
        cx, cy = (int(v) for v in rng.integers(size // 8, size - size // 8, size=2))
        kind = rng.integers(0, 3)
        if kind == 0:
            r = int(rng.integers(size // 12, size // 4, endpoint=True))
            cv2.circle(canvas, (cx, cy), r, color, -1, cv2.LINE_AA)
            cv2.circle(canvas, (cx, cy), r, ink, width, cv2.LINE_AA)
        elif kind == 1:
            axes = tuple(int(v) for v in rng.integers(size // 14, size // 4, size=2, endpoint=True))
            angle = float(rng.uniform(0, 180))
            cv2.ellipse(canvas, (cx, cy), axes, angle, 0, 360, color, -1, cv2.LINE_AA)
            cv2.ellipse(canvas, (cx, cy), axes, angle, 0, 360, ink, width, cv2.LINE_AA)
        else:
            k = int(rng.integers(3, 7))
            angles = np.sort(rng.uniform(0, 2 * np.pi, size=k))
            radii = rng.uniform(size / 14, size / 4, size=k)
            pts = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], axis=1)
            pts = np.rint(pts).astype(np.int32).reshape(-1, 1, 2)
            cv2.fillPoly(canvas, [pts], color, cv2.LINE_AA)
            cv2.polylines(canvas, [pts], True, ink, width, cv2.LINE_AA)
    return canvas
