"""Per-image metrics, in a plain dict registry (stylegan3 style).

Every metric takes ``(output, truth, line, hint, mask)`` as numpy arrays: output and
truth ``H×W×3`` in [0, 1], line ``H×W`` in [0, 1] (white = 1), hint ``H×W×3`` in
[0, 1] and mask ``H×W`` in {0, 1}; it returns a float, or NaN when it does not apply
to that image (e.g. no hinted pixel off the lines). Means skip NaNs.

``bleeding`` (color bleeding at the lines around hinted regions): the line art is thresholded
(ink = line < 0.5); the ink-free pixels split into 4-connected *regions*; a region holding a
hinted pixel is a *hinted region*. Two thin bands are scored, each ``band`` px wide measured from
the nearest ink pixel: the *inner* band inside hinted regions, and the *outer* band in the other
regions just across a line from a hinted region (within ``band + reach`` px of it; ``reach`` is
the widest line crossed). The score is the mean CIE76 ΔE between output and ground truth over
both bands: a model whose hint color spills over a line, or stops short of it, scores high; a
clean fill scores ~0. It also counts ordinary color errors that happen to fall in the bands, so
compare it between models, not as an absolute. ``band`` and ``reach`` scale with the image side
S: 2 and 8 px at S = 128 (twice OpenMoji's ~4 px line width there), i.e. ``round(S / 64)`` and
``round(S / 16)``. NaN when no hint falls off the lines.
"""

from __future__ import annotations

import cv2
import numpy as np

from irodori.eval.color import delta_e76, srgb_to_lab

#: Pixels darker than this in the line art are "on a line".
LINE_THRESHOLD = 0.5


def psnr(output, truth, *_):
    mse = float(np.mean((output.astype(np.float64) - truth) ** 2))
    return 100.0 if mse == 0 else 10 * np.log10(1.0 / mse)


def ssim(output, truth, *_):
    """Mean SSIM over the RGB channels (Gaussian window σ = 1.5, Wang et al. 2004 constants)."""
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    vals = []
    for ch in range(3):
        x, y = output[..., ch].astype(np.float64), truth[..., ch].astype(np.float64)
        blur = lambda a: cv2.GaussianBlur(a, (11, 11), 1.5)  # noqa: E731
        mx, my = blur(x), blur(y)
        vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
        s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
        vals.append(s.mean())
    return float(np.mean(vals))


def hint_delta_e(output, truth, line, hint, mask):
    """Mean ΔE76 between the output and the hint color at hinted pixels off the lines: does the model
    paint what the user asked for where the user asked?"""
    sel = (mask > 0.5) & (line > LINE_THRESHOLD)
    if not sel.any():
        return float("nan")
    return float(delta_e76(output[sel], hint[sel]).mean())


def line_regions(line: np.ndarray) -> np.ndarray:
    """Labels of the 4-connected regions of ink-free pixels (``line >= LINE_THRESHOLD``); ink is label 0."""
    return cv2.connectedComponents((line >= LINE_THRESHOLD).astype(np.uint8), connectivity=4)[1]


def bleeding_bands(line: np.ndarray, mask: np.ndarray, band: float | None = None,
                   reach: float | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """The (inner, outer) boolean bands of :func:`color_bleeding`, or None without a hinted region."""
    side = min(line.shape)
    band = max(1.0, round(side / 64)) if band is None else band
    reach = max(2.0, round(side / 16)) if reach is None else reach
    ink = line < LINE_THRESHOLD
    free = ~ink
    labels = line_regions(line)
    seeds = np.unique(labels[(mask > 0.5) & free])
    seeds = seeds[seeds > 0]
    if not seeds.size:
        return None
    hinted = np.isin(labels, seeds)
    dist = lambda zero_at: cv2.distanceTransform((~zero_at).astype(np.uint8), cv2.DIST_L2,  # noqa: E731
                                                 cv2.DIST_MASK_PRECISE)
    near_line = free & (dist(ink) <= band) if ink.any() else np.zeros_like(free)
    inner = hinted & near_line
    outer = near_line & ~hinted & (dist(hinted) <= band + reach)
    return inner, outer


def color_bleeding(output, truth, line, hint, mask, band: float | None = None, reach: float | None = None):
    """Mean ΔE76 to the ground truth in thin bands on both sides of the lines bordering hinted regions
    (see the module docstring): does the hint color stop at the lines?"""
    bands = bleeding_bands(line, mask, band, reach)
    if bands is None:
        return float("nan")
    sel = bands[0] | bands[1]
    if not sel.any():
        return float("nan")
    return float(delta_e76(output[sel], truth[sel]).mean())


#: ΔE76 under which a pixel counts as "that color" for the region metrics.
REGION_DE = 15.0
#: Region interiors for the region metrics: pixels at least this far (px) from the ink.
INTERIOR_PX = 3.0


def _interiors(line: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, interior, hinted labels) for the region metrics: closed regions of ink-free pixels, their
    pixels ≥ ``INTERIOR_PX`` from ink, and the labels holding a hinted pixel."""
    labels = line_regions(line)
    ink = line < LINE_THRESHOLD
    far = cv2.distanceTransform((~ink).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE) >= INTERIOR_PX
    hinted = np.unique(labels[(mask > 0.5) & ~ink])
    return labels, far & (labels > 0), hinted[hinted > 0]


def region_fill(output, truth, line, hint, mask):
    """Over the closed regions holding a hint, the mean fraction of each region's interior (≥ 3 px from ink)
    whose color lies within ΔE76 15 of the region's hint color (the mean of its hinted pixels): does a hint
    fill its whole region? Meant for hints placed deep inside closed regions (:mod:`irodori.eval.regionhints`)."""
    labels, interior, hinted = _interiors(line, mask)
    fractions = []
    for lab in hinted:
        region = labels == lab
        target = hint[region & (mask > 0.5)].mean(axis=0)
        sel = region & interior
        if sel.any():
            fractions.append(float((delta_e76(output[sel], target) <= REGION_DE).mean()))
    return float(np.mean(fractions)) if fractions else float("nan")


def region_bleed(output, truth, line, hint, mask):
    """The fraction of the unhinted regions' interior (≥ 3 px from ink, the outer background included)
    whose color moved more than ΔE76 15 from white, what a hints-only fill leaves there: do hints stay
    inside their regions?"""
    labels, interior, hinted = _interiors(line, mask)
    sel = interior & ~np.isin(labels, hinted)
    if not sel.any():
        return float("nan")
    return float((delta_e76(output[sel], np.ones(3)) > REGION_DE).mean())


def figure_lightness(image: np.ndarray, figure: np.ndarray) -> float:
    """Mean CIELAB lightness L*/100 (0 black .. 1 white) of ``image`` over the ``figure`` mask; NaN if empty."""
    if not figure.any():
        return float("nan")
    return float(srgb_to_lab(image[figure])[..., 0].mean() / 100)


METRICS = {"psnr": psnr, "ssim": ssim, "hint_de": hint_delta_e, "bleeding": color_bleeding,
           "region_fill": region_fill, "bleed": region_bleed}
