"""The region-aware result: flats, shading and lines, from the model's colors and the line-art regions.

``image = flats ⊙ shading ⊙ line`` per pixel, every factor in [0, 1]:

* **flats**: one color per region (:mod:`irodori.colorize.regions`; ink pixels belong to their nearest region, so
  colors run under the lines). A region a hint *claims* gets the hint's color; any other region gets the
  model's *lit color* there (the 90th percentile of each channel), or white in ``hints-only`` mode.
* **shading**: what the model adds on top: in a claimed region its shadow as a grey factor (its
  luminance over the region's median luminance, so the typical pixel keeps the hint's exact color; light
  above the median is clipped, since a multiply layer only darkens), elsewhere the model's own colors
  over the lit color, so the model keeps its detail there.
* A region claimed by **tones of one hue** (light and shade of one color) keeps the model's own colors
  where the model already painted it in that hue (:data:`OBEY_SHARE` of its pixels): the model saw where each
  tone was painted and renders them. Where it painted another hue, all over or in part (a blue-grey jacket
  come out brown, a hat half blue and half brown), the flat is the lightest tone and the shading the model's
  luminance over that tone's, whatever the ``shading`` strength.
* **line**: the line art (ink = 0).

Which regions the hints claim, and with what color, is :mod:`irodori.colorize.claims`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from irodori.colorize.claims import LUMA, SAME_HUE, Claims, chromaticity
from irodori.colorize.regions import Regions

FlatsMode = Literal["regions", "hints-only", "model"]
FLATS_MODES: tuple[str, ...] = ("regions", "hints-only", "model")
#: Default strength of the model's shading in claimed regions (chosen on validation splits: README, "Regions
#: and layers").
DEFAULT_SHADING = 0.0


@dataclass(frozen=True)
class Layers:
    """H×W×3 float32 ``flats`` and ``shading``, H×W ``line``, all in [0, 1]; ``image`` is their product."""

    flats: np.ndarray
    shading: np.ndarray
    line: np.ndarray

    @property
    def image(self) -> np.ndarray:
        return self.flats * self.shading * self.line[..., None]


def _region_percentile(values: np.ndarray, labels: np.ndarray, n: int, q: float,
                       weight: np.ndarray | None = None) -> np.ndarray:
    """Per-label ``q``-quantile of ``values`` in [0, 1] (256 bins), counting only pixels where ``weight``."""
    bins = np.clip((values * 255 + 0.5).astype(np.int64), 0, 255)
    hist = np.bincount((labels.astype(np.int64) * 256 + bins).ravel(),
                       None if weight is None else weight.ravel().astype(np.float64), minlength=(n + 1) * 256)
    cdf = np.cumsum(hist.reshape(n + 1, 256), axis=1)
    total = cdf[:, -1:]
    idx = np.argmax(cdf >= q * np.maximum(total, 1e-9), axis=1)
    return np.where(total[:, 0] > 0, idx / 255.0, 1.0).astype(np.float32)


#: A toned region keeps the model's colors when this share of its pixels off the ink lie in the tones' hue
#: (chromaticity within :data:`HUE_REACH` of the flat's in every channel).
OBEY_SHARE = 0.9
HUE_REACH = 2 * SAME_HUE


def _recolored_tones(model: np.ndarray, labels: np.ndarray, n: int, paper: np.ndarray, claims: Claims) -> np.ndarray:
    """Bool per label: the regions claimed by tones of one hue that the model did not paint in that hue
    (under :data:`OBEY_SHARE` of their pixels off the ink within :data:`HUE_REACH` of the flat's chromaticity)."""
    if not claims.toned.any():
        return claims.toned.copy()
    pick = paper & claims.toned[labels]
    lab = labels[pick]
    near = np.abs(chromaticity(model[pick]) - chromaticity(claims.color)[lab]).max(axis=1) <= HUE_REACH
    share = np.bincount(lab[near], minlength=n + 1) / np.maximum(np.bincount(lab, minlength=n + 1), 1)
    return claims.toned & (share < OBEY_SHARE)


def compose(model: np.ndarray, line: np.ndarray, regions: Regions, claims: Claims,
            mode: FlatsMode = "regions", shading: float = DEFAULT_SHADING, lit: float = 0.9) -> Layers:
    """Flats, shading and line from the model's colors (H×W×3, [0, 1], before the lines) and the claims.
    ``shading`` in [0, 1] scales the model's light and shadow in claimed regions (0: the hint's flat color)."""
    if mode not in FLATS_MODES:
        raise ValueError(f"flats mode must be one of {', '.join(FLATS_MODES)}, got {mode!r}")
    model = np.clip(np.asarray(model, np.float32), 0, 1)
    labels, n = regions.labels, regions.count
    paper = ~regions.ink  # statistics from the colors off the lines
    lit_color = np.stack([_region_percentile(model[..., c], labels, n, lit, paper) for c in range(3)], 1)
    luma = model @ LUMA
    mid_luma = np.maximum(_region_percentile(luma, labels, n, 0.5, paper), 1e-3)
    snap = np.zeros(n + 1, bool) if mode == "model" else claims.claimed.copy()
    recolor = _recolored_tones(model, labels, n, paper, claims) & snap
    snap &= ~(claims.toned & ~recolor)  # toned regions the model painted in their hue keep its colors
    keep_model = ~snap if mode != "hints-only" else (claims.hinted & ~snap)
    flat_color = np.ones((n + 1, 3), np.float32)
    flat_color[snap] = claims.color[snap]
    flat_color[keep_model] = lit_color[keep_model]
    flats = flat_color[labels]
    grey = 1.0 - float(shading) * (1.0 - np.clip(luma / mid_luma[labels], 0, 1))
    own = np.clip(model / np.maximum(flats, 1e-3), 0, 1)
    if recolor.any():
        flat_luma = np.maximum(claims.color @ LUMA, 1e-3)
        grey = np.where(recolor[labels], np.clip(luma / flat_luma[labels], 0, 1), grey)
    shade = np.where(snap[labels][..., None], grey[..., None], np.where(keep_model[labels][..., None], own, 1.0))
    return Layers(flats, shade.astype(np.float32), np.asarray(line, np.float32))
