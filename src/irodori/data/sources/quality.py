"""Pairs that teach the wrong thing, found from the pixels and marked ``excluded`` in the manifests.

Each rule looks at one prepared pair (colour, and line art where the source has it, both at the
corpus size) and names what is wrong; :func:`check_pair` returns the first reason or None.

- ``empty line art``: under ``MIN_INK`` of the line art is ink (a drawing with nothing to follow).
- ``ink on white``: over ``MAX_INK_ON_WHITE`` of the ink lies where the colour image is paper white,
  so the pair teaches lines that the colour image does not have (outlines of white shapes drawn in the
  colour image as white strokes).
- ``colourless``: the figure's chroma (CIELAB C*) stays under ``MIN_CHROMA`` at its 95th percentile: a
  black-and-white drawing teaches nothing about colour and pulls guesses towards grey.
- ``black background``: over ``MAX_DARK_BORDER`` of a ring a sixteenth inside the drawn content's
  bounding box (past an outline drawn round the figure) is near black (L* < 20), and so is over
  ``MAX_DARK_BOX`` of the box: the drawing sits on a painted black panel, which no line art shows
  (black hair or a thick outline covers one side of the box at most).

Thresholds were set by looking at contact sheets of the pairs each rule flags (all splits of the
prepared corpus, 2026-12-04), never at test figures.
"""

from __future__ import annotations

import cv2
import numpy as np

from irodori.data.figure import figure_mask

MIN_INK = 0.002
MAX_INK_ON_WHITE = 0.25
MIN_CHROMA = 8.0
MAX_DARK_BORDER = 0.75
MAX_DARK_BOX = 0.4
INK_LEVEL = 0.5
WHITE_LEVEL = 0.94


def pair_stats(color: np.ndarray, line: np.ndarray | None) -> dict[str, float]:
    """The figures every rule reads: ``color`` ``H×W×3 uint8``, ``line`` ``H×W uint8`` or None."""
    rgb = color.astype(np.float32) / 255
    lab = cv2.cvtColor(np.ascontiguousarray(rgb[::2, ::2]), cv2.COLOR_RGB2Lab)  # every other pixel: 4x cheaper
    figure = figure_mask(rgb)[::2, ::2]
    chroma = np.hypot(lab[..., 1], lab[..., 2])[figure]
    box = _content_box(lab[..., 0])
    k = min(max(2, box.shape[0] // 16), box.shape[0] // 2, box.shape[1] // 2)  # inside an outline drawn round it
    border = np.concatenate([box[k], box[-1 - k], box[:, k], box[:, -1 - k]])
    stats = {"chroma95": float(np.percentile(chroma, 95)) if chroma.size else 0.0,
             "dark_border": float((border < 20).mean()), "dark_box": float((box < 20).mean())}
    if line is not None:
        ink = line.astype(np.float32) / 255 < INK_LEVEL
        white = (rgb >= WHITE_LEVEL).all(axis=-1)
        stats["ink"] = float(ink.mean())
        stats["ink_on_white"] = float((ink & white).sum() / max(1, ink.sum()))
    return stats


def _content_box(lightness: np.ndarray) -> np.ndarray:
    """``lightness`` cropped to the bounding box of what is drawn (L* under 98: not paper white)."""
    ys, xs = np.nonzero(lightness < 98)
    return lightness[ys.min():ys.max() + 1, xs.min():xs.max() + 1] if len(ys) else lightness


def reason_of(stats: dict[str, float]) -> str | None:
    """The first rule ``stats`` (from :func:`pair_stats`) break, or None."""
    if "ink" in stats and stats["ink"] < MIN_INK:
        return "empty line art"
    if stats.get("ink_on_white", 0.0) > MAX_INK_ON_WHITE:
        return "ink on white"
    if stats["chroma95"] < MIN_CHROMA:
        return "colourless"
    if stats["dark_border"] > MAX_DARK_BORDER and stats["dark_box"] > MAX_DARK_BOX:
        return "black background"
    return None


def check_pair(color: np.ndarray, line: np.ndarray | None) -> str | None:
    """Why this pair should not be trained or tested on, or None when it is fine."""
    return reason_of(pair_stats(color, line))
