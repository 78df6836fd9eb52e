"""Simulated user color hints (paper §4.1, after Zhang et al. 2017): pure functions of (image, rng).

Hints are returned as ``hint_rgb`` (``H×W×3 float32`` in [0, 1], 0 where there is no hint) and
``mask`` (``H×W float32`` in {0, 1}); ``layout="chw_signed"`` builds the model's hint tensor
(``3×H×W`` in [-1, 1], 0 where there is no hint) directly, as the datasets do.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class HintPatches:
    """Square patches: top-left rows ``ys``, columns ``xs`` and sides ``sizes`` (``int64`` arrays of length N)."""

    ys: np.ndarray
    xs: np.ndarray
    sizes: np.ndarray

    def __len__(self) -> int:
        return len(self.sizes)


def sample_hint_patches(height: int, width: int, rng: np.random.Generator,
                        p: float = 0.125, max_size: int = 8, count: int | None = None) -> HintPatches:
    """Draw the patches of one sample, exactly as the paper describes.

    - count N with P(N = k) = (1 - p)^k p for k = 0, 1, 2, ... (mean (1 - p)/p = 7 at p = 0.125,
      a fraction p of samples get none);
    - side s uniform in 1..max_size (capped by the image);
    - top-left corner ~ N(mu = (H/2, W/2), Sigma = diag((H/4)^2, (W/4)^2)), rounded and clipped so
      the whole patch lies inside the image.

    ``count`` fixes N instead of drawing it (evaluation gives every image the same number of hints).
    """
    if not 0 < p <= 1:
        raise ValueError(f"p must lie in (0, 1], got {p}")
    n = int(rng.geometric(p)) - 1 if count is None else int(count)  # numpy's geometric counts trials (1, 2, ...)
    sizes = rng.integers(1, max_size, size=n, endpoint=True)
    np.minimum(sizes, min(height, width), out=sizes)
    centre = np.array([height / 2.0, width / 2.0])
    corners = rng.normal(loc=centre, scale=centre / 2.0, size=(n, 2))
    ys = np.clip(np.rint(corners[:, 0]).astype(np.int64), 0, height - sizes)
    xs = np.clip(np.rint(corners[:, 1]).astype(np.int64), 0, width - sizes)
    return HintPatches(ys=ys, xs=xs, sizes=sizes)


#: Hint layouts: "hwc" is ``H×W×3`` in [0, 1]; "chw_signed" is the model's hint tensor layout,
#: ``3×H×W`` in [-1, 1] with 0 outside the mask (built directly: no transpose or rescale pass).
LAYOUTS = ("hwc", "chw_signed")


def _empty_hints(h: int, w: int, layout: str) -> tuple[np.ndarray, np.ndarray]:
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    shape = (h, w, 3) if layout == "hwc" else (3, h, w)
    return np.zeros(shape, np.float32), np.zeros((h, w), np.float32)


def _color_value(color: np.ndarray, layout: str) -> np.ndarray:
    """A [0, 1] color as the value written in ``layout``."""
    color = np.clip(color, 0.0, 1.0)  # float rounding of 255 * (1/255)
    return color if layout == "hwc" else color * 2.0 - 1.0


def paint_patches(image: np.ndarray, patches: HintPatches, layout: str = "hwc") -> tuple[np.ndarray, np.ndarray]:
    """Fill each patch with the mean color of ``image`` inside it; later patches paint over earlier ones.

    ``image`` is ``H×W×3`` (uint8 in 0..255, or float in [0, 1]); returns ``(hint_rgb, mask)``, the
    hint in ``layout`` (see :data:`LAYOUTS`), the mask ``H×W float32``.
    """
    h, w = image.shape[:2]
    hint, mask = _empty_hints(h, w, layout)
    if len(patches) == 0:
        return hint, mask
    scale = 1.0 / 255.0 if image.dtype == np.uint8 else 1.0
    # N is small (mean 7) and each patch at most max_size^2 pixels: one slice per patch is cheaper
    # than any whole-image pass (an integral image alone costs more than all the patches together).
    for y, x, s in zip(patches.ys.tolist(), patches.xs.tolist(), patches.sizes.tolist()):
        block = image[y:y + s, x:x + s]
        color = _color_value(block.reshape(-1, block.shape[-1]).mean(axis=0, dtype=np.float64) * scale, layout)
        if layout == "chw_signed":
            hint[:, y:y + s, x:x + s] = color[:, None, None]
        else:
            hint[y:y + s, x:x + s] = color
        mask[y:y + s, x:x + s] = 1.0
    return hint, mask


def simulate_hints(image: np.ndarray, rng: np.random.Generator, p: float = 0.125, max_size: int = 8,
                   layout: str = "hwc") -> tuple[np.ndarray, np.ndarray]:
    """Paper-style color hint patches for ``image`` (``H×W×3`` RGB): ``(hint_rgb, mask)``.

    See :func:`sample_hint_patches` for the distribution and :func:`paint_patches` for the colors
    and layout.
    """
    h, w = image.shape[:2]
    return paint_patches(image, sample_hint_patches(h, w, rng, p, max_size), layout)


def simulate_strokes(image: np.ndarray, rng: np.random.Generator, max_strokes: int = 3,
                     points: tuple[int, int] = (2, 5), step: tuple[float, float] = (4.0, 16.0),
                     thickness: tuple[int, int] = (1, 4), hint: np.ndarray | None = None,
                     mask: np.ndarray | None = None, layout: str = "hwc") -> tuple[np.ndarray, np.ndarray]:
    """Short scribbles like a user's brush strokes: ``(hint_rgb, mask)``, drawn over ``hint``/``mask`` if given.

    1..max_strokes polylines, each a random walk of ``points`` vertices (start placed like a hint
    patch corner, each step ``step`` px long in a direction that turns by at most 60 degrees),
    ``thickness`` px wide; ``step`` and ``thickness`` are given at 256 px and scale with the image.
    Each stroke gets the per-channel median of the image under it, so a stroke that crosses into a
    neighbouring region still takes the color of the region it mostly covers. ``layout``
    as in :func:`paint_patches` (it must match ``hint``'s layout when ``hint`` is given).
    """
    h, w = image.shape[:2]
    if hint is None or mask is None:
        hint, mask = _empty_hints(h, w, layout)
    scale_px = min(h, w) / 256.0
    to_unit = 1.0 / 255.0 if image.dtype == np.uint8 else 1.0
    n = int(rng.integers(1, max_strokes, endpoint=True))
    for _ in range(n):
        k = int(rng.integers(points[0], points[1], endpoint=True))
        start = rng.normal((h / 2.0, w / 2.0), (h / 4.0, w / 4.0))
        angle = rng.uniform(0.0, 2 * np.pi)
        turns = rng.uniform(-np.pi / 3, np.pi / 3, size=k - 1)
        lengths = rng.uniform(step[0], step[1], size=k - 1) * scale_px
        angles = angle + np.cumsum(turns)
        steps = np.stack([lengths * np.sin(angles), lengths * np.cos(angles)], axis=1)
        pts_yx = np.concatenate([start[None], start[None] + np.cumsum(steps, axis=0)])
        pts_yx[:, 0] = np.clip(pts_yx[:, 0], 0, h - 1)
        pts_yx[:, 1] = np.clip(pts_yx[:, 1], 0, w - 1)
        width = max(1, int(round(rng.integers(thickness[0], thickness[1], endpoint=True) * scale_px)))
        # Draw into a canvas the size of the stroke's bounding box only.
        pad = width // 2 + 1
        y0, x0 = (int(v) for v in (np.floor(pts_yx.min(axis=0)) - pad).clip(0))
        y1 = min(h, int(np.ceil(pts_yx[:, 0].max())) + pad + 1)
        x1 = min(w, int(np.ceil(pts_yx[:, 1].max())) + pad + 1)
        local = np.zeros((y1 - y0, x1 - x0), np.uint8)
        pts_xy = np.rint(pts_yx[:, ::-1] - (x0, y0)).astype(np.int32)
        cv2.polylines(local, [pts_xy.reshape(-1, 1, 2)], False, 1, thickness=width, lineType=cv2.LINE_8)
        on = local.astype(bool)
        if not on.any():
            continue
        color = _color_value(np.median(image[y0:y1, x0:x1][on], axis=0) * to_unit, layout)
        if layout == "chw_signed":
            hint[:, y0:y1, x0:x1][:, on] = color[:, None]
        else:
            hint[y0:y1, x0:x1][on] = color
        mask[y0:y1, x0:x1][on] = 1.0
    return hint, mask
