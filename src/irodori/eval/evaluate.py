"""Run a generator over a test split with fixed, seeded hints and average the metrics.

Every model sees the same inputs: image ``i`` gets its hints from
``default_rng([hints_seed, i])``, ``num_hints`` patches drawn as in the paper
(positions and sizes; the count fixed instead of geometric).

Per-image metrics come from :data:`irodori.eval.metrics.METRICS` and are averaged; set-level
metrics (:data:`SET_METRICS`: ``fid``) compare the whole set of outputs with the whole set of
ground truths, the real side's statistics cached per dataset (:mod:`irodori.eval.fid`).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from irodori.data.hints import paint_patches, sample_hint_patches
from irodori.colorize.imageio import model_inputs, output_colors
from irodori.data.imageio import load_grey, load_rgb
from irodori.data.splits import is_kept
from irodori.errors import InputError
from irodori.eval.fid import FID
from irodori.eval.metrics import METRICS

#: Metrics over the whole set rather than per image (selected with the per-image ones by name).
SET_METRICS = ("fid",)


@dataclass
class EvalItem:
    name: str
    color: np.ndarray  # S×S×3 float32 [0, 1]
    line: np.ndarray   # S×S float32 [0, 1]
    hint: np.ndarray   # S×S×3 float32 [0, 1]
    mask: np.ndarray   # S×S float32 {0, 1}


def split_names(files: dict, split: str, limit: int | None = None) -> list[str]:
    """A split's names in a prepared manifest, in name order, leaving out near-duplicates of other files
    (``duplicate_of``: a test drawing whose twin is in train is no test) and excluded pairs (``excluded``),
    both marked by ``irodori prepare all`` (:func:`irodori.data.splits.is_kept`)."""
    return sorted(n for n, rec in files.items() if rec["split"] == split and is_kept(rec))[:limit]


def dataset_key(root: str | Path, split: str, size: int, limit: int | None = None) -> dict:
    """What identifies a prepared split's real images (the FID statistics cache key, with the extractor)."""
    root = Path(root)
    manifest = (root / "manifest.json").read_bytes()
    names = split_names(json.loads(manifest)["files"], split, limit)
    return {"dataset": str(root.resolve()), "manifest_sha256": hashlib.sha256(manifest).hexdigest(),
            "split": split, "size": size, "images": len(names),
            "names_sha256": hashlib.sha256("\n".join(names).encode()).hexdigest()}


def load_openmoji_split(root: str | Path, split: str, size: int, hints_seed: int, num_hints: int,
                        max_size: int = 8, limit: int | None = None) -> list[EvalItem]:
    root = Path(root)
    try:
        files = json.loads((root / "manifest.json").read_text())["files"]
    except FileNotFoundError:
        raise InputError(f"{root / 'manifest.json'} not found: prepare the data with "
                         f"`irodori prepare openmoji --out {root}`") from None
    except (ValueError, KeyError) as exc:
        raise InputError(f"{root / 'manifest.json'} is not an OpenMoji manifest ({exc})") from None
    names = split_names(files, split, limit)
    if not names:
        raise InputError(f"{root} has no images in split {split!r}")
    items = []
    for i, name in enumerate(names):
        color = load_rgb(root / "color" / f"{name}.png")
        line = load_grey(root / "black" / f"{name}.png")
        if color.shape[0] != size:
            color = cv2.resize(color, (size, size), interpolation=cv2.INTER_AREA)
            line = cv2.resize(line, (size, size), interpolation=cv2.INTER_AREA)
        rng = np.random.default_rng([hints_seed, i])
        patches = sample_hint_patches(size, size, rng, max_size=max_size, count=num_hints)
        hint, mask = paint_patches(color, patches)
        items.append(EvalItem(name, color.astype(np.float32) / 255, line.astype(np.float32), hint, mask))
    return items


@torch.inference_mode()
def run_generator(G, items: list[EvalItem], use_hints: bool = True, batch_size: int = 16) -> list[np.ndarray]:
    outs = []
    G.eval()
    for s in range(0, len(items), batch_size):
        chunk = items[s:s + batch_size]
        masks = np.stack([it.mask for it in chunk]) * float(use_hints)
        line, hint, mask = model_inputs(np.stack([it.line for it in chunk]), np.stack([it.hint for it in chunk]), masks)
        outs += list(output_colors(G(line, hint, mask)))
    return outs


def _mean(xs) -> float:
    xs = [x for x in xs if not math.isnan(x)]
    return float(np.mean(xs)) if xs else float("nan")


def check_metrics(metrics) -> None:
    unknown = set(metrics) - set(METRICS) - set(SET_METRICS)
    if unknown:
        raise InputError(f"unknown metric(s) {sorted(unknown)}; known: {', '.join([*METRICS, *SET_METRICS])}")


def hint_de_truth(items: list[EvalItem]) -> float:
    """The ground truth's own mean ``hint_de``: a hint patch is the mean color under it, so a patch that
    straddles a line or two regions asks for a blend no correct image holds. This is the score a perfect
    colorization gets; read ``hint_de`` against it."""
    return _mean(METRICS["hint_de"](it.color, it.color, it.line, it.hint, it.mask) for it in items)


def evaluate(G, items: list[EvalItem], metrics=("psnr", "hint_de"), batch_size: int = 16, *,
             fid=None, real_key: dict | None = None) -> dict:
    """Means of each per-image metric with hints, set-level metrics (``fid``) of the hinted outputs
    against the ground truths, and PSNR without hints (does the model use them?).

    ``fid``: an :class:`irodori.eval.fid.FID` to reuse (default: one with the ``auto`` extractor);
    ``real_key``: the dataset's :func:`dataset_key`, to cache the real statistics.
    """
    check_metrics(metrics)
    t0 = time.perf_counter()
    with_h = run_generator(G, items, True, batch_size)
    result = {}
    for m in metrics:
        if m in METRICS:
            result[m] = _mean(METRICS[m](o, it.color, it.line, it.hint, it.mask) for o, it in zip(with_h, items))
    if "hint_de" in metrics:
        result["hint_de_truth"] = hint_de_truth(items)
    without = run_generator(G, items, False, batch_size)
    result["psnr_nohints"] = _mean(METRICS["psnr"](o, it.color) for o, it in zip(without, items))
    result["images"] = len(items)
    result["seconds_generate_and_score"] = time.perf_counter() - t0
    if "fid" in metrics:
        t1 = time.perf_counter()
        fid = fid if fid is not None else FID("auto")
        result.update(fid(with_h, [it.color for it in items], real_key))
        result["seconds_fid"] = time.perf_counter() - t1
    return result
