import math

import numpy as np
import pytest
import torch

from irodori.data.hints import HintPatches, paint_patches
from irodori.eval import METRICS
from irodori.eval.evaluate import EvalItem, evaluate
from irodori.eval.metrics import bleeding_bands, color_bleeding

RED, BLUE, INK = (0.85, 0.1, 0.1), (0.1, 0.1, 0.85), (0.0, 0.0, 0.0)


def two_regions(size=64, x0=30, width=2):
    """Red left / blue right ground truth, split by a vertical ink line of ``width`` px; a red hint on the left."""
    line = np.ones((size, size), np.float32)
    line[:, x0:x0 + width] = 0
    truth = np.zeros((size, size, 3), np.float32)
    truth[:, :x0] = RED
    truth[:, x0 + width:] = BLUE
    truth[:, x0:x0 + width] = INK
    hint = np.zeros_like(truth)
    mask = np.zeros((size, size), np.float32)
    hint[20:24, 10:14] = RED
    mask[20:24, 10:14] = 1
    return truth, line, hint, mask


def test_clean_fill_scores_zero_and_bleeding_across_the_line_is_detected():
    truth, line, hint, mask = two_regions()
    assert color_bleeding(truth.copy(), truth, line, hint, mask) == pytest.approx(0, abs=1e-9)
    bled = truth.copy()
    bled[:, 32:35] = RED  # the hint color spills 3 px over the line into the blue region
    score = color_bleeding(bled, truth, line, hint, mask)
    assert score > 20, score
    # Errors far from any line do not count: it measures the boundaries, not the whole image.
    far = truth.copy()
    far[40:50, 5:15] = BLUE
    assert color_bleeding(far, truth, line, hint, mask) == pytest.approx(0, abs=1e-9)
    # Stopping short of the line on the hinted side counts too.
    short = truth.copy()
    short[:, 28:30] = (1.0, 1.0, 1.0)
    assert color_bleeding(short, truth, line, hint, mask) > 10


def test_bands_lie_on_both_sides_of_the_line_only():
    truth, line, hint, mask = two_regions()
    inner, outer = bleeding_bands(line, mask)  # defaults at 64 px: band 1, reach 4
    cols_in, cols_out = np.unique(np.nonzero(inner)[1]), np.unique(np.nonzero(outer)[1])
    assert cols_in.tolist() == [29] and cols_out.tolist() == [32]
    line[:, 26:34] = 0  # an 8 px line is wider than the reach: nothing across it is scored
    inner, outer = bleeding_bands(line, mask)
    assert inner.any() and not outer.any()
    inner, outer = bleeding_bands(line, mask, band=2, reach=8)
    assert np.unique(np.nonzero(outer)[1]).tolist() == [34, 35]


def test_outer_band_only_next_to_hinted_regions():
    # Three regions: hint in the left one; the band across the *second* line (between middle and right) is
    # not next to a hinted region and must not be scored.
    truth, line, hint, mask = two_regions(size=64, x0=20, width=4)
    line[:, 44:48] = 0
    inner, outer = bleeding_bands(line, mask, band=2, reach=6)
    assert not (inner | outer)[:, 40:].any()
    assert outer[:, 24:26].all()


def test_not_applicable_without_a_hint_off_the_lines():
    truth, line, hint, mask = two_regions()
    assert math.isnan(color_bleeding(truth, truth, line, hint, np.zeros_like(mask)))
    on_line = np.zeros_like(mask)
    on_line[:, 31] = 1
    assert math.isnan(color_bleeding(truth, truth, line, hint, on_line))


def test_registry_and_signatures():
    truth, line, hint, mask = two_regions()
    assert set(METRICS) == {"psnr", "ssim", "hint_de", "bleeding", "region_fill", "bleed"}
    for name, fn in METRICS.items():
        v = fn(truth, truth, line, hint, mask)
        assert isinstance(v, float), name
    assert METRICS["hint_de"](truth, truth, line, hint, mask) == pytest.approx(0, abs=1e-6)


class Oracle(torch.nn.Module):
    """A "generator" that returns the ground truths in order (each call consumes one batch)."""

    def __init__(self, truths):
        super().__init__()
        self.truths = [torch.from_numpy(t).permute(2, 0, 1) * 2 - 1 for t in truths]

    def forward(self, line, hint, mask):
        out, self.truths = self.truths[:len(line)], self.truths[len(line):]
        return torch.stack(out)


def test_hint_de_truth_is_what_a_perfect_colorization_scores():
    truth, line, _, _ = two_regions()
    inside = EvalItem("inside", truth, line, *paint_patches(truth, HintPatches(*(np.array([v]) for v in (20, 10, 4)))))
    # A patch over the ink line: its color is a red/ink/blue blend that no pixel of the truth holds.
    straddle = EvalItem("straddle", truth, line,
                        *paint_patches(truth, HintPatches(*(np.array([v]) for v in (20, 27, 8)))))
    items = [inside, straddle]
    res = evaluate(Oracle([it.color for it in items] * 2), items, ("psnr", "hint_de"), batch_size=1)
    assert res["psnr"] > 60  # exact up to float rounding
    assert res["hint_de"] == pytest.approx(res["hint_de_truth"], abs=1e-4)
    per_item = [METRICS["hint_de"](it.color, it.color, it.line, it.hint, it.mask) for it in items]
    assert per_item[0] == pytest.approx(0, abs=1e-4) and per_item[1] > 10
    assert res["hint_de_truth"] == pytest.approx(np.mean(per_item))
