"""Line-art regions: synthetic drawings whose regions are known."""

import cv2
import numpy as np
import pytest

from irodori.cli.bench import synthetic_lineart
from irodori.colorize.regions import SegmentCache, default_max_gap, depth, ink_mask, segment

S = 128


def frame(gap: int = 0, thickness: int = 3, value: float = 0.0, size: int = S) -> np.ndarray:
    """A square outline (an inside and an outside region), optionally with a gap of ``gap`` px in its top edge."""
    img = np.ones((size, size), np.float32)
    cv2.rectangle(img, (size // 4, size // 4), (3 * size // 4, 3 * size // 4), value, thickness)
    if gap:
        t = thickness // 2 + 1
        img[size // 4 - t:size // 4 + t + 1, size // 2:size // 2 + gap] = 1.0
    return img


def inside_and_outside(regions, size: int = S) -> tuple[int, int]:
    return int(regions.labels[size // 2, size // 2]), int(regions.labels[2, 2])


def test_a_closed_outline_makes_an_inside_and_an_outside_region():
    r = segment(frame())
    inside, outside = inside_and_outside(r)
    assert r.count == 2 and inside != outside
    assert r.border[outside] and not r.border[inside]
    assert (r.labels > 0).all(), "every pixel, ink included, belongs to a region"


@pytest.mark.parametrize("gap", [1, 2, 3, 4, 5])
def test_gaps_up_to_max_gap_are_closed_and_wider_ones_are_not(gap):
    line = frame(gap)
    closed = segment(line, max_gap=5)
    inside, outside = inside_and_outside(closed)
    assert inside != outside, f"a {gap}-px gap leaks with max_gap=5"
    # the inside region keeps nearly all of the frame's interior
    interior = np.zeros_like(line, bool)
    interior[S // 4 + 3:3 * S // 4 - 2, S // 4 + 3:3 * S // 4 - 2] = True
    assert (closed.labels[interior] == inside).mean() > 0.97
    if gap >= 2:
        leaky = segment(line, max_gap=0)
        assert len(set(inside_and_outside(leaky))) == 1, "without gap closing the regions connect"


@pytest.mark.parametrize("value", [0.0, 0.35, 0.55])
def test_grey_and_antialiased_lines_count_as_ink(value):
    line = cv2.GaussianBlur(frame(value=value), (3, 3), 0.8)
    assert ink_mask(line)[S // 4, S // 2]
    r = segment(line)
    assert len(set(inside_and_outside(r))) == 2


def test_sketchy_xdog_like_lines_still_separate_the_regions():
    rng = np.random.default_rng(0)
    line = frame(gap=3)
    line[rng.random(line.shape) < 0.004] = 0.0  # speckle
    line = np.clip(line + rng.normal(0, 0.05, line.shape).astype(np.float32), 0, 1)
    r = segment(line)
    inside, outside = inside_and_outside(r)
    assert inside != outside
    assert r.area[inside] > 0.2 * S * S and r.area[outside] > 0.4 * S * S


def test_tiny_regions_merge_into_a_neighbour():
    line = frame()
    cv2.circle(line, (S // 2, S // 2), 2, 0.0, 1)  # a 2-px closed dot inside the frame
    r = segment(line, min_area=30)
    assert r.count == 2
    assert r.area[1:].min() >= 30


def test_segmentation_is_deterministic_and_depth_is_zero_on_ink():
    line = synthetic_lineart(256, seed=3)
    a, b = segment(line), segment(line)
    assert np.array_equal(a.labels, b.labels) and a.count == b.count > 3
    d = depth(a)
    assert d[a.ink].max() == 0 and d[~a.ink].max() > 5


def test_blank_paper_is_one_region():
    r = segment(np.ones((40, 60), np.float32))
    assert r.count == 1 and not r.ink.any()


def test_default_gap_grows_with_the_image():
    assert default_max_gap(256, 256) == 4
    assert default_max_gap(2000, 1000) == 12
    assert default_max_gap(64, 64) == 3


def test_the_segment_cache_finds_a_drawing_once_and_tells_drawings_and_gaps_apart():
    cache = SegmentCache(max_pixels=3 * 256 * 256)
    line = synthetic_lineart(256, seed=3)
    first = cache(line)
    assert cache(line.copy()) is first, "the same pixels in a new array are a hit"
    assert np.array_equal(first.labels, segment(line).labels)
    assert cache(line, max_gap=0) is not first
    other = line.copy()
    other[5, 5] = 0.0
    assert cache(other) is not first
    with pytest.raises(ValueError):
        first.labels[0, 0] = 7  # shared between calls: read-only
    assert cache(other) is cache(other) and cache(line, max_gap=0) is cache(line, max_gap=0)
    cache(synthetic_lineart(256, seed=4))  # a fourth line art of 256² pushes the least recently used out
    assert cache(line) is not first
