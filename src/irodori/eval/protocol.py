"""The field's public evaluation protocol, Hint-AUC (``pip install hintauc``; Madono, Yuan, Simo-Serra, TVCG 2026),
beside this project's region metrics, for several colorizers in one run.

For every test drawing, ``hintauc.generate_hints`` segments the ground truth and draws one scribble and one dot
per region on a 64×64 grid (the protocol's map size), deterministically (``path_method="geodesic"``: the
library's dependency-free longest path, fully deterministic; the paper's FilFinder path is not bit-exact).
At each hint ratio α (0, 1, 3, 5, 10, 25, 50, 100% of the regions, largest first) the hints are upsampled
(nearest) to the drawing's size and every method colorizes the same inputs; ``hintauc.Evaluator`` scores
PSNR and SSIM (both images at 256×256) and the area under each metric's curve is the Hint-AUC.

In the same pass every non-oracle method also gets the region-metric hints (one dot deep inside each of the
largest closed regions, :mod:`irodori.eval.regionhints`) and is scored by ``region_fill`` and ``bleed``.

Methods are plain functions ``(line, hint, mask) -> image`` on float arrays in [0, 1] (line H×W, white = 1;
hint and image H×W×3 RGB; mask H×W). Two references run with them: ``paint-bucket`` (no model: each
4-connected ink-free region holding hint pixels is filled with their mean color, the rest white) and
``oracle-region-fill`` (hintauc's ``hint_fill_colorizer``, which reads the ground-truth regions: a
reference only, never a model's score).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from irodori.data.figure import figure_mask
from irodori.data.imageio import load_grey, load_rgb
from irodori.data.lineart import XDoGParams, luma, xdog
from irodori.errors import ConfigError, InputError
from irodori.eval.evaluate import split_names
from irodori.eval.metrics import METRICS, figure_lightness, line_regions
from irodori.eval.regionhints import closed_region_dots

ALPHAS = (0.0, 0.01, 0.03, 0.05, 0.10, 0.25, 0.50, 1.0)
HINT_TYPES = ("scribble", "dot")
HINT_MAP_SIZE = 64
ORACLE = "oracle-region-fill"
#: Fixed XDoG for drawings that have no line art of their own (the middle of the training ranges).
EVAL_XDOG = XDoGParams(sigma=0.5, k=4.5, tau=0.96, eps=-0.1, phi=200.0)
Method = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def require_hintauc():
    """Import ``hintauc`` or fail with how to install it next to this package's OpenCV."""
    try:
        import hintauc
    except ImportError as exc:
        raise ConfigError("the Hint-AUC protocol needs the hintauc package: pip install 'irodori[eval]' && "
                          f"pip install --no-deps hintauc==0.3.3 (see the README) ({exc})") from None
    return hintauc


@dataclass(frozen=True)
class Drawing:
    name: str
    line: np.ndarray   # H×W float32 [0, 1]
    truth: np.ndarray  # H×W×3 float32 [0, 1]


def paint_bucket(line: np.ndarray, hint: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Hint colors poured into the line art's 4-connected ink-free regions (no gap closing, no model)."""
    labels = line_regions(line)
    n = int(labels.max())
    sel = (mask > 0.5) & (labels > 0)
    lab = labels[sel]
    count = np.bincount(lab, minlength=n + 1)
    colors = np.ones((n + 1, 3), np.float32)
    for c in range(3):
        total = np.bincount(lab, hint[sel][:, c], minlength=n + 1)
        colors[:, c] = np.where(count > 0, total / np.maximum(count, 1), 1.0)
    colors[0] = 1.0
    return colors[labels] * line[..., None]


def _to8(image: np.ndarray) -> np.ndarray:
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


def _oracle(hintauc, hints, line8, truth_bgr, color_bgr, mask8) -> np.ndarray:
    sample = {"hints": hints, "ground_truth": truth_bgr, "line_art": line8, "hint_mask": mask8,
              "hint_color": color_bgr, "n_regions": hints.n_regions()}
    return hintauc.hint_fill_colorizer(sample)[..., ::-1]  # BGR -> RGB uint8


def _add(sums: dict, key, scores: dict) -> None:
    acc = sums.setdefault(key, {})
    for k, v in scores.items():
        acc[k] = acc.get(k, 0.0) + float(v)


def blank_page(line: np.ndarray, hint: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A reference that paints nothing: a white page (what a no-hint guess has to beat)."""
    return np.ones((*line.shape, 3), np.float32)


def evaluate_protocol(drawings: list[Drawing], methods: dict[str, Method], hint_type: str = "scribble",
                      alphas=ALPHAS, oracle: bool = True, region_metrics: bool = True, progress=None,
                      keep=None) -> dict:
    """Per-ratio mean PSNR/SSIM and their Hint-AUC for every method (and the oracle), plus mean
    ``region_fill``/``bleed`` per method and, at α = 0 (no hints), the mean lightness of each method's
    figure (``lightness``, :func:`~irodori.eval.metrics.figure_lightness` over the ground truth's
    :func:`~irodori.data.figure.figure_mask`) beside the truth's (``truth_lightness``).
    ``progress``: called with each drawing's index when done; ``keep``: called as
    ``keep(method, alpha, index, image_uint8)`` with every scored output (e.g. to collect one ratio's
    outputs for FID)."""
    hintauc = require_hintauc()
    if hint_type not in HINT_TYPES:
        raise ConfigError(f"hint type must be one of {', '.join(HINT_TYPES)}, got {hint_type!r}")
    alphas = hintauc.check_alphas(list(alphas), full_range=True)
    ev = hintauc.Evaluator(metrics=("psnr", "ssim"))
    sums: dict = {}
    regions: dict = {name: {"region_fill": [], "bleed": []} for name in methods}
    light: dict = {name: [] for name in ["truth", *methods]}
    for i, d in enumerate(drawings):
        h, w = d.line.shape
        figure = figure_mask(d.truth)
        light["truth"].append(figure_lightness(d.truth, figure))
        truth8, line8 = _to8(d.truth), _to8(d.line)
        hints = hintauc.generate_hints(truth8[..., ::-1], size=HINT_MAP_SIZE, path_method="geodesic")
        for a in alphas:
            color_bgr, mask8 = hintauc.hint_inputs(hints, a, hint_type, h, w, tie_break="stable")
            hint = color_bgr[..., ::-1].astype(np.float32) / 255
            mask = (mask8 > 0).astype(np.float32)
            for name, fn in methods.items():
                out = fn(d.line, hint, mask)
                out8 = _to8(out)
                if keep is not None:
                    keep(name, a, i, out8)
                _add(sums, (name, a), ev(out8, truth8))
                if a == 0:
                    light[name].append(figure_lightness(out, figure))
            if oracle:
                _add(sums, (ORACLE, a), ev(_oracle(hintauc, hints, line8, truth8[..., ::-1].copy(), color_bgr,
                                                   mask8), truth8))
        if region_metrics:
            hint, mask = closed_region_dots(d.line, d.truth)
            for name, fn in methods.items():
                out = fn(d.line, hint, mask)
                for m in ("region_fill", "bleed"):
                    regions[name][m].append(METRICS[m](out, d.truth, d.line, hint, mask))
        if progress is not None:
            progress(i)
    n = len(drawings)
    names = [*methods, *([ORACLE] if oracle else [])]
    result = {"hint_type": hint_type, "alphas": alphas, "images": n, "hint_map_size": HINT_MAP_SIZE,
              "path_method": "geodesic", "tie_break": "stable", "hintauc": hintauc.__version__,
              "metric_backend": ev.backend(), "truth_lightness": _nanmean(light["truth"]), "methods": {}}
    for name in names:
        per_alpha = {a: {k: v / n for k, v in sums[(name, a)].items()} for a in alphas}
        entry = {"per_alpha": per_alpha, "hint_auc": hintauc.hint_auc_table(per_alpha)}
        if light.get(name):
            entry["lightness"] = _nanmean(light[name])
        if region_metrics and name in regions:
            for m, vals in regions[name].items():
                entry[m] = _nanmean(vals)
        result["methods"][name] = entry
    return result


def _nanmean(values: list[float]) -> float:
    vals = [v for v in values if not math.isnan(v)]
    return float(np.mean(vals)) if vals else float("nan")


def plot_curves(result: dict, path, metrics=("psnr", "ssim")) -> None:
    """Metric-vs-hint-ratio curves of every method in one PNG (matplotlib, from the ``eval`` extra)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ConfigError(f"plotting needs matplotlib: pip install 'irodori[eval]' ({exc})") from None
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.0 * len(metrics), 3.6), squeeze=False)
    for ax, m in zip(axes[0], metrics):
        for name, entry in result["methods"].items():
            alphas = sorted(entry["per_alpha"])
            style = "--" if name in (ORACLE, "paint-bucket") else "-"
            ax.plot([100 * a for a in alphas], [entry["per_alpha"][a][m] for a in alphas], style, marker="o",
                    ms=3, label=f"{name} (AUC {entry['hint_auc'][m]:.3f})")
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlabel("hint ratio (% of regions)")
        ax.set_title(f"{m.upper()}, {result['hint_type']} hints, {result['images']} drawings")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def load_drawings(root, split: str, size: int, limit: int | None = None) -> list[Drawing]:
    """A prepared split (``manifest.json``, ``color/``, and ``black/`` where the source has real line art) at
    ``size`` px. Drawings without ``black/NAME.png`` (paintings) get XDoG line art with fixed parameters."""
    root = Path(root)
    try:
        files = json.loads((root / "manifest.json").read_text())["files"]
    except FileNotFoundError:
        raise InputError(f"{root / 'manifest.json'} not found: prepare the data with `irodori prepare`") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{root / 'manifest.json'} is not a prepared dataset's manifest ({exc})") from None
    names = split_names(files, split, limit)
    if not names:
        raise InputError(f"{root} has no images in split {split!r}")
    drawings = []
    for name in names:
        color = load_rgb(root / "color" / f"{name}.png")
        black = root / "black" / f"{name}.png"
        if color.shape[:2] != (size, size):
            color = cv2.resize(color, (size, size), interpolation=cv2.INTER_AREA)
        if black.is_file():
            line = load_grey(black)
            if line.shape != (size, size):
                line = cv2.resize(line, (size, size), interpolation=cv2.INTER_AREA)
        else:
            grey, white = luma(color.astype(np.float32) / 255)  # float: no rounding of the luma to 8 bits
            line = xdog(grey, EVAL_XDOG, white)
        drawings.append(Drawing(name, np.clip(line, 0, 1).astype(np.float32), color.astype(np.float32) / 255))
    return drawings
