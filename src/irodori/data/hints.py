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


# ---------------------------------------------------------------------------
# Region hints, as the Hint-AUC evaluation protocol gives them: one scribble (or one dot) per region of
# the ground truth, for a fraction of its largest regions, drawn on a coarse grid and upsampled.


def segment_colors(image: np.ndarray, rng: np.random.Generator, grid: int = 64, colors: int = 12,
                   iters: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Regions of ``image`` on a ``grid×grid`` grid: ``(labels, small)``.

    ``small`` is the image area-averaged to the grid (``grid×grid×3 float32`` in [0, 1]); ``labels``
    (``int32``, 1..R, every cell labelled) are the 4-connected components of a k-means colour
    quantisation (``colors`` clusters in CIELAB, initial centres drawn by ``rng``) smoothed by a 3×3
    majority vote. A stand-in for
    the Felzenszwalb segmentation the protocol uses: flat fills become regions, and so do the thin
    bands of cells that outlines leave at this scale.
    """
    small = cv2.resize(image, (grid, grid), interpolation=cv2.INTER_AREA)
    if small.dtype != np.uint8:
        small = np.clip(np.rint(small * 255.0), 0, 255).astype(np.uint8)
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2Lab).reshape(-1, 3).astype(np.float32)
    k = min(colors, len(lab))
    centres = lab[rng.choice(len(lab), size=k, replace=False)]
    sq = (lab ** 2).sum(1)
    for _ in range(iters):
        assign = (sq[:, None] - 2.0 * lab @ centres.T + (centres ** 2).sum(1)[None]).argmin(1)
        counts = np.bincount(assign, minlength=k)
        sums = np.stack([np.bincount(assign, lab[:, c], minlength=k) for c in range(3)], 1)
        centres = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], centres).astype(np.float32)
    # A 3x3 majority vote removes the isolated cells that anti-aliased outlines leave between clusters.
    votes = np.stack([cv2.boxFilter((assign.reshape(grid, grid) == j).astype(np.float32), -1, (3, 3),
                                    normalize=False, borderType=cv2.BORDER_REPLICATE) for j in range(k)])
    quant = votes.argmax(0)
    labels = np.zeros((grid, grid), np.int32)
    next_label = 1
    for j in np.unique(quant):
        n, comp = cv2.connectedComponents((quant == j).astype(np.uint8), connectivity=4, ltype=cv2.CV_32S)
        on = comp > 0
        labels[on] = comp[on] + (next_label - 1)
        next_label += n - 1
    return labels, small.astype(np.float32) / 255.0


_NEIGHBOURS = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))  # p2..p9, clockwise


def thin_regions(labels: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of every region ``r`` with ``keep[r]`` at once (a cell's neighbours count only
    when they lie in its own region): returns the boolean skeleton, one cell wide."""
    h, w = labels.shape
    lab = np.pad(labels, 1, constant_values=-1)
    alive = np.pad(keep[labels], 1)
    centre = (slice(1, h + 1), slice(1, w + 1))
    shifted = [(slice(1 + dy, h + 1 + dy), slice(1 + dx, w + 1 + dx)) for dy, dx in _NEIGHBOURS]
    same = [lab[s] == labels for s in shifted]
    while True:
        changed = False
        for phase in (0, 1):
            p = [alive[s] & m for s, m in zip(shifted, same)]
            count = np.sum(p, axis=0)
            trans = np.sum([~p[i] & p[(i + 1) % 8] for i in range(8)], axis=0)
            if phase == 0:
                gate = ~(p[0] & p[2] & p[4]) & ~(p[2] & p[4] & p[6])
            else:
                gate = ~(p[0] & p[2] & p[6]) & ~(p[0] & p[4] & p[6])
            drop = alive[centre] & (count >= 2) & (count <= 6) & (trans == 1) & gate
            if drop.any():
                alive[centre] &= ~drop
                changed = True
        if not changed:
            return alive[centre].copy()


def _farthest(cells: set, start: tuple[int, int]) -> tuple[tuple[int, int], dict]:
    """Breadth-first search over 8-connected ``cells`` from ``start``: (last cell reached, parents)."""
    parents = {start: None}
    frontier, last = [start], start
    while frontier:
        nxt = []
        for y, x in frontier:
            for dy, dx in _NEIGHBOURS:
                c = (y + dy, x + dx)
                if c in cells and c not in parents:
                    parents[c] = (y, x)
                    nxt.append(c)
        if nxt:
            last = nxt[-1]
        frontier = nxt
    return last, parents


def longest_path(cells: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest shortest path of an 8-connected set of cells (double breadth-first search; exact on a
    tree-shaped skeleton), from the component of ``cells[0]``."""
    pool = set(cells)
    a, _ = _farthest(pool, cells[0])
    b, parents = _farthest(pool, a)
    path, c = [], b
    while c is not None:
        path.append(c)
        c = parents[c]
    return path


def sample_region_ratio(rng: np.random.Generator, p_none: float = 0.1, p_all: float = 0.1,
                        low: float = 1 / 64) -> float:
    """The fraction of regions to hint: 0 with ``p_none``, 1 with ``p_all``, else log-uniform in [low, 1]."""
    u = rng.random()
    if u < p_none:
        return 0.0
    if u < p_none + p_all:
        return 1.0
    return float(np.exp(rng.uniform(np.log(low), 0.0)))


def simulate_region_hints(image: np.ndarray, rng: np.random.Generator, ratio: float | None = None,
                          grid: int = 64, dot_prob: float = 0.25, min_cells: int = 3,
                          layout: str = "hwc", with_regions: bool = False) -> tuple[np.ndarray, ...]:
    """Hint-AUC style region hints for ``image`` (``H×W×3`` RGB): ``(hint_rgb, mask)``.

    The image's regions (:func:`segment_colors` on a ``grid×grid`` grid; regions under ``min_cells``
    cells ignored) are sorted by size; the largest ``round(ratio × R)`` of them (at least one when
    ``ratio > 0``; ``ratio`` drawn by :func:`sample_region_ratio` when None) each get the longest path
    of their skeleton (:func:`thin_regions`, :func:`longest_path`) or, for the whole call with
    probability ``dot_prob``, one cell at their most interior point, in the region's mean color.
    The grid is upsampled nearest to ``H×W``: strokes are ``H/grid`` px thick and may spill a few px
    over lines, as in the protocol. ``layout`` as in :func:`paint_patches`. ``with_regions``: also
    return the hinted regions, the ``H×W float32`` {0, 1} mask of every chosen region (upsampled
    nearest like the hints), which the region loss (:func:`irodori.losses.region_l1_loss`) reads.
    """
    h, w = image.shape[:2]
    hint, mask = _empty_hints(h, w, layout)
    ratio = sample_region_ratio(rng) if ratio is None else float(ratio)
    if not 0 <= ratio <= 1:
        raise ValueError(f"ratio must lie in [0, 1], got {ratio}")
    labels, small = segment_colors(image, rng, grid)
    sizes = np.bincount(labels.ravel())
    regions = [r for r in np.argsort(-sizes, kind="stable") if r > 0 and sizes[r] >= min_cells]
    n = max(1, round(ratio * len(regions))) if ratio > 0 and regions else 0
    if n == 0:
        return (hint, mask, np.zeros((h, w), np.float32)) if with_regions else (hint, mask)
    chosen = np.array(regions[:n])
    means = np.stack([np.bincount(labels.ravel(), small[..., c].ravel(), len(sizes)) for c in range(3)], 1)
    means /= np.maximum(sizes, 1)[:, None]
    keep = np.zeros(len(sizes), bool)
    keep[chosen] = True
    cells = _region_cells(labels, keep, rng, dots=rng.random() < dot_prob)
    grid_rgb = np.zeros((grid, grid, 3), np.float32)
    grid_mask = np.zeros((grid, grid), np.uint8)
    for r in chosen.tolist():
        ys, xs = cells[r]
        grid_rgb[ys, xs] = means[r]
        grid_mask[ys, xs] = 1
    up = cv2.resize(grid_mask, (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
    rgb = _color_value(cv2.resize(grid_rgb, (w, h), interpolation=cv2.INTER_NEAREST), "hwc")
    if layout == "chw_signed":
        hint[:, up] = (rgb[up] * 2.0 - 1.0).T
    else:
        hint[up] = rgb[up]
    mask[up] = 1.0
    if not with_regions:
        return hint, mask
    region = cv2.resize(keep[labels].astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
    return hint, mask, region.astype(np.float32)


def _region_cells(labels: np.ndarray, keep: np.ndarray, rng: np.random.Generator,
                  dots: bool) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Grid cells to paint for every kept region: its skeleton's longest path, or (``dots``, or an empty
    skeleton) its most interior cell (ties broken by ``rng``)."""
    edge = np.zeros(labels.shape, bool)
    edge[:-1] |= labels[:-1] != labels[1:]
    edge[1:] |= labels[1:] != labels[:-1]
    edge[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    depth = cv2.distanceTransform((~edge).astype(np.uint8), cv2.DIST_L2, 3)
    depth = depth + rng.random(depth.shape, dtype=np.float32) * 0.5  # random among (near-)equal depths
    flat = labels.ravel()
    order = np.lexsort((-depth.ravel(), flat))
    first = order[np.searchsorted(flat[order], np.arange(len(keep)))]  # deepest cell of each label
    out = {}
    skeleton = None if dots else thin_regions(labels, keep)
    for r in np.flatnonzero(keep).tolist():
        if skeleton is not None:
            ys, xs = np.nonzero(skeleton & (labels == r))
            if len(ys):
                path = longest_path(list(zip(ys.tolist(), xs.tolist())))
                out[r] = (np.array([p[0] for p in path]), np.array([p[1] for p in path]))
                continue
        y, x = divmod(int(first[r]), labels.shape[1])
        out[r] = (np.array([y]), np.array([x]))
    return out
