"""A :class:`~irodori.colorize.pipeline.Colorizer` as Hint-AUC protocol methods (:mod:`irodori.eval.protocol`).

The protocol calls every method with the same ``(line, hint, mask)``; the network runs once per
distinct input (keyed on the arrays' content, never on their addresses) and every flats mode and
shading strength composes its result from that one run.
"""

from __future__ import annotations

import hashlib

import numpy as np

from irodori.colorize.flats import DEFAULT_SHADING
from irodori.colorize.hint_input import HintLayer, layer_from_floats


class _OneInputCache:
    """The model colors of the last input seen (the protocol asks for one input at a time)."""

    def __init__(self, col, resolution: int | None = None):
        self.col, self.resolution = col, resolution
        self.key: bytes | None = None
        self.value: np.ndarray | None = None

    def __call__(self, line: np.ndarray, layer: HintLayer) -> np.ndarray:
        digest = hashlib.blake2b(digest_size=16)
        for a in (line, layer.rgb, layer.mask):
            digest.update(str(a.shape).encode())
            digest.update(np.ascontiguousarray(a).tobytes())
        key = digest.digest()
        if key != self.key:
            self.key, self.value = key, self.col.model_colors(line, layer, self.resolution)
        return self.value


def colorizer_methods(col, modes=("regions",), shadings=(DEFAULT_SHADING,), prefix: str = "model",
                      resolution: int | None = None) -> dict:
    """``name -> (line, hint, mask) -> image`` for every flats mode (× shading strength, for the modes
    that use one); names are ``PREFIX/MODE``, or ``PREFIX/MODE@STRENGTH`` when several strengths are asked.
    ``resolution``: the network's working long side (default: the model's native size)."""
    colors = _OneInputCache(col, resolution)

    def method(mode: str, shading: float):
        def colorize(line, hint, mask):
            layer = layer_from_floats(hint, mask)
            out = col.compose(line, layer, colors(line, layer), mode, shading)
            return np.asarray(out.image, np.float32) / 255
        return colorize

    methods = {}
    for mode in modes:
        for k in ([DEFAULT_SHADING] if mode == "model" else shadings):
            several = len(shadings) > 1 and mode != "model"
            methods[f"{prefix}/{mode}@{k:g}" if several else f"{prefix}/{mode}"] = method(mode, k)
    return methods
