"""One training sample from a cropped color image (and its real line art, when there is one).

:func:`make_sample` only composes the pure functions of :mod:`~irodori.data.lineart` and
:mod:`~irodori.data.hints`; :class:`SampleSpec` holds what every dataset passes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import torch

from irodori.data.hints import simulate_hints, simulate_region_hints, simulate_strokes
from irodori.data.imageio import rgb_to_tensor, unit_to_tensor
from irodori.data.lineart import PAPER_MIXTURE, augment_lines, extract_lineart


@dataclass(frozen=True)
class SampleSpec:
    """What every dataset needs to turn a color image into a training sample."""

    size: int = 512
    #: Line extraction mixture, method name -> probability (see :mod:`irodori.data.lineart`).
    line_methods: Mapping[str, float] = field(default_factory=lambda: dict(PAPER_MIXTURE))
    hint_p: float = 0.125
    hint_max_size: int = 8
    #: Probability that a sample also gets brush strokes on top of the hint patches.
    stroke_prob: float = 0.0
    #: Probability that a sample gets Hint-AUC style region scribbles/dots instead of the paper's patches.
    scribble_prob: float = 0.0
    #: Probability that real line art (a pair's drawing) is restyled by :func:`augment_lines`.
    line_aug: float = 0.0


def make_sample(color: np.ndarray, rng: np.random.Generator, spec: SampleSpec,
                line: np.ndarray | None = None) -> dict[str, torch.Tensor]:
    """Compose a sample from a cropped ``S×S×3 uint8`` color image.

    ``line`` (``S×S float32`` in [0, 1]) is the real line art when there is one (restyled with
    probability ``spec.line_aug``); otherwise it is extracted from ``color`` by the mixture. Hints
    are region scribbles or dots (:func:`simulate_region_hints`) with probability ``spec.scribble_prob``,
    else the paper's patches (and, with probability ``spec.stroke_prob``, strokes on top). The color
    target is ``color`` itself, untouched; ``region`` marks the ground-truth regions that region hints were
    drawn from (all zero for patches). Each probability that is 0 draws nothing from ``rng``, so
    specs without these options give the same samples as before they existed.
    """
    if line is None:
        line = extract_lineart(color, "mixture", rng, mixture=spec.line_methods)
        line_t = unit_to_tensor(line, inplace=True)  # a fresh array of ours: reuse its memory
    elif spec.line_aug > 0 and rng.random() < spec.line_aug:
        line_t = unit_to_tensor(augment_lines(line, rng), inplace=True)
    else:
        line_t = unit_to_tensor(line)
    region = None
    if spec.scribble_prob > 0 and rng.random() < spec.scribble_prob:
        hint, mask, region = simulate_region_hints(color, rng, layout="chw_signed", with_regions=True)
    else:
        hint, mask = simulate_hints(color, rng, spec.hint_p, spec.hint_max_size, layout="chw_signed")
        if spec.stroke_prob > 0 and rng.random() < spec.stroke_prob:
            hint, mask = simulate_strokes(color, rng, hint=hint, mask=mask, layout="chw_signed")
    return {
        "line": line_t,
        "hint": torch.from_numpy(hint),
        "mask": torch.from_numpy(mask[None]),
        "color": rgb_to_tensor(color),
        # The ground-truth regions the hints were drawn from (region hints only; none for patches).
        "region": torch.from_numpy(region[None] if region is not None else np.zeros_like(mask)[None]),
    }
