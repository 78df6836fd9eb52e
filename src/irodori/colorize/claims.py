"""Which line-art regions the hints claim, and what each hint did: the rules an artist's hint is read by.

An artist reads a hint as "this region is this color". Hand-placed dots and the evaluation protocol's
scribbles (drawn on a 64×64 grid and upsampled) spill a few pixels over lines, so only hint pixels that lie
*deep* inside a region count (:func:`required_depth`):

0. **A piece of its own.** A hint piece (a connected piece of the hint mask) that lies mostly (``OWN_SHARE`` of
   its pixels, off the ink) in one region claims it, however close to a line it lies, where that region holds
   no deep hint pixel (rule 1): a sloppy dot that touches a line is meant for the region it sits in, while spill
   is the small part of a piece that lies in its neighbour. Deep hints come first: a shallow piece (a detail's
   scribble running along a line) does not outvote the deep hints of the region it lies in (counting it there
   cost 0.96 dB Hint-AUC on OpenClipart val, and nothing elsewhere).
1. **Depth.** Otherwise a hint pixel counts where it lies at least ``depth_px`` (default :func:`default_depth`: long
   side / 64, at least 3 px) from its region's boundary, or half the region's own largest depth in narrow
   regions. Regions that touch the image edge need no more than that (cropped hair, skirts and sleeves are
   regions like any other), except the **outer background** (:func:`outer_background`: a region touching
   two or more sides of the image), which needs twice the depth so that spill from a figure's outline does
   not flood it. A stroke across several regions claims every region it lies deep in.
2. **Agreement.** A region whose deep hint pixels agree (RMS spread under ``agree``, RGB in [0, 1]) takes
   their mean color as its flat.
3. **One hue, several tones.** Where they disagree but share one hue (:func:`chromaticity`: r, g, b over
   their sum, which a change of lightness leaves alone; RMS spread under ``same_hue``) and the darkest is
   no darker than :data:`MIN_TONE` of the lightest (a shade, not black beside white), the artist means
   "this color, with shading": the region is claimed (:attr:`Claims.toned`) with the lightest tone as its flat.
   The model saw where each tone was painted, so :func:`irodori.colorize.flats.compose` keeps the model's own
   colors there when it painted the region in that hue, and otherwise (a blue-grey jacket come out brown)
   paints the flat shaded by the model's luminance. Measured on the validation splits (Hint-AUC, first 20 of
   OpenMoji and DiceBear), shading each pixel as its nearest tone (a split, as LazyBrush does) cost 1.0 and
   0.35 dB against leaving such regions to the model, and the flat under the model's luminance always cost
   0.11 and 0.30 dB; a version of this rule that judged the model's hue by the region's median color cost
   nothing (the README gives the rules as they are against the rules before them).
4. Deep hints of different hues leave the region to the model, which saw them (shadows, patterns).

:func:`hint_report` says per hint (a connected piece of one color) which regions it claimed, or why none.
Every rule is a plain array function, so the page's in-browser version can follow it step by step.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from irodori.colorize.regions import Regions, depth

#: RMS spread (RGB in [0, 1]) under which the deep hints of a region agree.
AGREE = 20 / 255
#: RMS spread of the chromaticity (r, g, b over r + g + b) under which hints of different lightness count as
#: one hue (a light and a shade of a blue-grey: 0.011; skin and its shadow: 0.024; red and orange: 0.071).
SAME_HUE = 0.04
#: The darkest tone a region's hints may hold, as a share of the lightest tone's luminance, for them to read as one
#: color with shading (a shade, not black beside white).
MIN_TONE = 0.4
#: Added to r, g and b before the chromaticity is taken, so near-black tones count as grey, not as noise.
CHROMA_EPS = 0.05
#: The share of a hint piece that must lie in one region for the piece to claim it whatever its depth.
OWN_SHARE = 0.8
#: A border region touching this many sides of the image is the outer background.
BACKGROUND_SIDES = 2
LUMA = np.array([0.299, 0.587, 0.114], np.float32)
#: Why a hint claimed nothing (:func:`hint_report`), by code.
REASONS = {
    "shallow": "too close to a line: no part of it lies inside a region; paint it farther from the lines",
    "background": "in the outer background a hint must lie farther from the lines (twice as deep)",
    "disagree": "hints of different colors share this region, so the model blends them",
}


@dataclass(frozen=True)
class Claims:
    """Per region label (index 0 unused): ``claimed`` (a flat color applies), ``color`` (the flat: the deep
    hints' mean, or their lightest tone; RGB [0, 1]), ``hinted`` (it holds deep hint pixels at all, agreeing
    or not), ``toned`` (claimed by tones of one hue: shaded by the model) and ``need`` (the depth, px, a hint
    pixel needs there). Per pixel: ``deep`` (H×W bool: the hint pixels that counted), ``depth`` (H×W:
    :func:`irodori.colorize.regions.depth`)."""

    claimed: np.ndarray
    color: np.ndarray
    hinted: np.ndarray
    toned: np.ndarray
    need: np.ndarray
    deep: np.ndarray
    depth: np.ndarray


def default_depth(height: int, width: int) -> float:
    """How deep (px) a hint pixel must lie to count: 4 px at 256 px, scaling with the image, at least 3."""
    return max(3.0, max(height, width) / 64)


def outer_background(regions: Regions, min_contact: float = 0.02) -> np.ndarray:
    """Bool per label: the region touches at least :data:`BACKGROUND_SIDES` sides of the image, each along
    ``min_contact`` of that side's length (at least 2 px). A cropped figure's hair or skirt touches one side;
    the paper around a figure, or in a corner, touches two or more."""
    labels = regions.labels
    n = regions.count
    sides = np.zeros(n + 1, np.int64)
    for edge in (labels[0], labels[-1], labels[:, 0], labels[:, -1]):
        contact = np.bincount(edge, minlength=n + 1)
        sides += contact >= max(2.0, min_contact * edge.size)
    background = sides >= BACKGROUND_SIDES
    background[0] = False
    return background


def required_depth(regions: Regions, dep: np.ndarray, depth_px: float | None = None) -> np.ndarray:
    """Per label, how deep (px, at least 1) a hint pixel must lie in that region to count (rule 1)."""
    h, w = regions.labels.shape
    depth_px = default_depth(h, w) if depth_px is None else float(depth_px)
    deepest = _capped_max(dep, regions.labels, regions.count, 2 * depth_px)
    need = np.minimum(depth_px, 0.5 * deepest) * np.where(outer_background(regions), 2.0, 1.0)
    return np.maximum(need, 1.0).astype(np.float32)


def owned_pieces(regions: Regions, mask: np.ndarray, share: float = OWN_SHARE) -> np.ndarray:
    """H×W bool (rule 0): the pixels of each hint piece (an 8-connected piece of ``mask``) that lie in the
    region holding at least ``share`` of the piece's pixels off the ink, counted against all its pixels (so a
    dot on a line, mostly ink, owns nothing)."""
    count, comp = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros(mask.shape, bool)
    on = comp > 0
    size = np.bincount(comp[on], minlength=count)
    paper = on & ~regions.ink
    piece, lab = comp[paper].astype(np.int64), regions.labels[paper].astype(np.int64)
    stride = regions.count + 1
    keys, n_key = np.unique(piece * stride + lab, return_counts=True)
    won = n_key >= share * size[keys // stride]
    owner = np.zeros(count, np.int64)
    owner[keys[won] // stride] = keys[won] % stride
    return on & (owner[comp] == regions.labels)


def chromaticity(rgb: np.ndarray) -> np.ndarray:
    """(r, g, b) / (r + g + b) of N×3 colors in [0, 1], with :data:`CHROMA_EPS` added to each channel: the same
    for a color at any lightness (a multiple of it)."""
    rgb = np.asarray(rgb, np.float64) + CHROMA_EPS
    return rgb / rgb.sum(axis=1, keepdims=True)


def _label_mean(lab: np.ndarray, values: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(per-label mean of N×C ``values``, per-label RMS distance of each value from that mean)."""
    count = np.maximum(np.bincount(lab, minlength=n + 1), 1).astype(np.float64)
    mean = np.stack([np.bincount(lab, values[:, c], minlength=n + 1) for c in range(values.shape[1])], 1).astype(float)
    mean /= count[:, None]
    sq = sum(np.bincount(lab, (values[:, c] - mean[lab, c]) ** 2, minlength=n + 1) for c in range(values.shape[1]))
    return mean, np.sqrt(sq / count)


def claim_regions(regions: Regions, hint_rgb: np.ndarray, hint_mask: np.ndarray, depth_px: float | None = None,
                  agree: float = AGREE, same_hue: float = SAME_HUE) -> Claims:
    """Which regions the hints claim (module docstring). ``hint_rgb`` H×W×3 in [0, 1], ``hint_mask`` H×W."""
    n = regions.count
    dep = depth(regions)
    need = required_depth(regions, dep, depth_px)
    mask = np.asarray(hint_mask) > 0.5
    deep = mask & (dep >= need[regions.labels])
    has_deep = np.bincount(regions.labels[deep], minlength=n + 1) > 0
    deep |= owned_pieces(regions, mask) & ~has_deep[regions.labels]
    lab = regions.labels[deep]
    rgb = np.asarray(hint_rgb, np.float64)[deep]
    hinted = np.bincount(lab, minlength=n + 1) > 0
    color, spread = _label_mean(lab, rgb, n)
    _, hue_spread = _label_mean(lab, chromaticity(rgb), n)
    agreed = hinted & (spread <= agree)
    luma = rgb @ LUMA.astype(np.float64)
    lightest, darkest = np.full(n + 1, -1.0), np.full(n + 1, 2.0)
    np.maximum.at(lightest, lab, luma)
    np.minimum.at(darkest, lab, luma)
    toned = hinted & ~agreed & (hue_spread <= same_hue) & (darkest >= MIN_TONE * lightest)
    if toned.any():
        top = luma >= lightest[lab] - 1 / 255  # the lightest tone's pixels
        base, _ = _label_mean(lab[top], rgb[top], n)
        color[toned] = base[toned]
    claimed = agreed | toned
    return Claims(claimed, color.astype(np.float32), hinted, toned, need, deep, dep)


def _capped_max(values: np.ndarray, labels: np.ndarray, n: int, cap: float, step: float = 0.125) -> np.ndarray:
    """Per-label maximum of ``values`` ≥ 0, exact to ``step`` below ``cap`` and ``cap`` above it (a histogram:
    no sort over the pixels)."""
    bins = int(np.ceil(cap / step)) + 1
    q = np.minimum(values * (1 / step), bins - 1).astype(np.int64)
    hist = np.bincount((labels.astype(np.int64) * bins + q).ravel(), minlength=(n + 1) * bins).reshape(n + 1, bins)
    top = bins - 1 - np.argmax(hist[:, ::-1] > 0, axis=1)
    return np.minimum(top * step, cap).astype(np.float32)


def hint_report(regions: Regions, claims: Claims, hint_mask: np.ndarray, limit: int = 500) -> tuple[list[dict], int]:
    """What each hint did: (one entry per hint, a connected piece of the hint mask, in reading order, at most
    ``limit``; the number of hints). An entry: ``x``, ``y`` (a pixel of the hint, the one nearest its centre
    of mass), ``box`` ([x0, y0, x1, y1], inclusive), ``regions`` (the labels it claimed) and ``reason`` (None,
    or a :data:`REASONS` code when it claimed nothing)."""
    mask = (np.asarray(hint_mask) > 0.5).astype(np.uint8)
    count, comp, stats, centroids = cv2.connectedComponentsWithStats(mask, connectivity=8)
    labels = regions.labels
    shown = np.arange(1, min(count, limit + 1))
    hit = claims.deep & (comp > 0) & (comp <= shown.size)
    pairs = np.unique(np.stack([comp[hit], labels[hit]], 1), axis=0) if hit.any() else np.zeros((0, 2), np.int64)
    background = outer_background(regions)
    half_deep = (mask > 0) & background[labels] & (claims.depth >= 0.5 * claims.need[labels])
    has_half = np.bincount(comp[half_deep], minlength=count) > 0
    report = []
    for c in shown:
        own = pairs[pairs[:, 0] == c, 1]
        won = [int(lab) for lab in own if claims.claimed[lab]]
        reason = None if won else "disagree" if own.size else "background" if has_half[c] else "shallow"
        x0, y0, w, h = (int(v) for v in stats[c, :4])
        ys, xs = np.nonzero(comp[y0:y0 + h, x0:x0 + w] == c)
        at = int(np.argmin((xs + x0 - centroids[c, 0]) ** 2 + (ys + y0 - centroids[c, 1]) ** 2))
        report.append({"x": int(xs[at] + x0), "y": int(ys[at] + y0), "box": [x0, y0, x0 + w - 1, y0 + h - 1],
                       "regions": won, "reason": reason})
    return report, count - 1
