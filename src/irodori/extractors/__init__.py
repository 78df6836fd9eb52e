"""Learned line extractors of the paper's mixture (§4.1): sketchKeras and Sketch Simplification.

Both networks are written here in PyTorch; their weights are the files the authors publish,
converted once with ``irodori convert-weights sketchkeras mod.h5`` /
``irodori convert-weights simplification model_gan.pth`` (the records, converters and how converted
files are found and checked are in :mod:`irodori.weights`). Each extractor takes an ``H×W×3 uint8``
RGB image of any size and returns ``H×W float32`` in [0, 1], white paper = 1, like the classical
ones in :mod:`irodori.data.lineart`, which registers them under the names used here.

The networks are slow on a CPU: about 1 TFLOP per 512 px image for sketchKeras (three channels
through an 18.6 M-parameter U-Net) and about 4 TFLOP for Sketch Simplification at the paper's
3x enlargement (44 M parameters), so tens of seconds to minutes per image on one core.
``irodori prepare lineart`` (:mod:`irodori.data.prepare_lineart`) precomputes them for a dataset,
on a GPU when there is one, sharded under torchrun.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from irodori.errors import WeightsError
from irodori.extractors.simplification import (
    SketchSimplificationNet, extract_simplification, lanczos_upscale, load_simplification,
)
from irodori.extractors.sketchkeras import SketchKerasNet, extract_sketchkeras, load_sketchkeras
from irodori.weights import SIMPLIFICATION, SKETCHKERAS, ConvertedWeights, resolve

__all__ = [
    "LEARNED", "SketchKerasNet", "SketchSimplificationNet", "extract_simplification", "extract_sketchkeras",
    "lanczos_upscale", "load_simplification", "load_sketchkeras", "weights_problem",
]

#: Method name -> (its converted weights, its extraction function ``(image, rng, *, net=None, ...)``,
#: its loader ``(path=None, device="cpu") -> network``).
LEARNED: dict[str, tuple[ConvertedWeights, Callable[..., np.ndarray], Callable]] = {
    "sketchkeras": (SKETCHKERAS, extract_sketchkeras, load_sketchkeras),
    "simplification": (SIMPLIFICATION, extract_simplification, load_simplification),
}


def weights_problem(name: str) -> str | None:
    """None when the converted weights of learned method ``name`` are found, else why not (with the fix)."""
    try:
        resolve(LEARNED[name][0])
    except WeightsError as exc:
        return str(exc)
    return None
