import cv2
import numpy as np
import pytest

from irodori.data import LINE_EXTRACTORS, OFFLINE_MIXTURE, PAPER_MIXTURE, check_methods, draw_shapes, extract_lineart
from irodori.data.lineart import XDOG_RANGES, choose_method, sample_xdog_params
from irodori.errors import ConfigError


@pytest.fixture(scope="module")
def drawing():
    return draw_shapes(128, np.random.default_rng(5))


@pytest.mark.parametrize("method", sorted(LINE_EXTRACTORS))
def test_extractor_output(method, drawing):
    for seed in range(8):
        line = extract_lineart(drawing, method, np.random.default_rng(seed))
        assert line.dtype == np.float32 and line.shape == drawing.shape[:2]
        assert line.min() >= 0.0 and line.max() <= 1.0
        assert (line > 0.9).mean() > 0.8, "mostly white paper"
        assert (line < 0.5).mean() > 0.005, "draws the outlines"


@pytest.mark.parametrize("method", sorted(LINE_EXTRACTORS))
def test_extractor_is_deterministic_and_varies(method, drawing):
    a = extract_lineart(drawing, method, np.random.default_rng(3))
    b = extract_lineart(drawing, method, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    others = [extract_lineart(drawing, method, np.random.default_rng(s)) for s in range(4, 8)]
    assert any(not np.array_equal(a, o) for o in others), "parameters are drawn per call"


@pytest.mark.parametrize("method", sorted(LINE_EXTRACTORS))
def test_flat_image_is_blank_paper(method):
    flat = np.full((32, 32, 3), 180, np.uint8)
    line = extract_lineart(flat, method, np.random.default_rng(0))
    assert line.min() > 0.99


@pytest.mark.parametrize("method", sorted(LINE_EXTRACTORS))
def test_greyscale_and_float_input(method, drawing):
    grey = drawing.mean(axis=2).astype(np.uint8)
    assert extract_lineart(grey, method, np.random.default_rng(0)).shape == grey.shape
    as_float = drawing.astype(np.float32) / 255
    line = extract_lineart(as_float, method, np.random.default_rng(0))
    ref = extract_lineart(drawing, method, np.random.default_rng(0))
    assert np.abs(line - ref).mean() < 0.02


def test_xdog_parameters_in_documented_ranges():
    rng = np.random.default_rng(0)
    for _ in range(200):
        p = sample_xdog_params(rng)
        for name, (lo, hi) in XDOG_RANGES.items():
            assert lo <= getattr(p, name) <= hi


def test_mixture_follows_probabilities():
    rng = np.random.default_rng(0)
    picks = [choose_method({"xdog": 0.25, "morph": 0.75}, rng) for _ in range(4000)]
    assert abs(picks.count("xdog") / 4000 - 0.25) < 0.03
    assert all(choose_method({"xdog": 0.0, "morph": 1.0}, rng) == "morph" for _ in range(50))


def test_mixture_runs(drawing):
    line = extract_lineart(drawing, "mixture", np.random.default_rng(0), mixture=OFFLINE_MIXTURE)
    assert line.dtype == np.float32 and line.shape == drawing.shape[:2]


def test_unavailable_methods_fail_clearly(drawing):
    with pytest.raises(ConfigError, match="sketchkeras.*convert-weights sketchkeras"):
        check_methods(PAPER_MIXTURE)
    with pytest.raises(ConfigError, match="cannot run"):
        extract_lineart(drawing, "mixture", np.random.default_rng(0))  # default: the paper's mixture
    with pytest.raises(ConfigError, match="unknown method"):
        extract_lineart(drawing, "canny", np.random.default_rng(0))
    with pytest.raises(ConfigError, match="simplification"):
        check_methods({"xdog": 1.0, "simplification": 0.0})  # named, even at p = 0
    with pytest.raises(ConfigError, match="sum"):
        check_methods({"xdog": 0.5, "morph": 0.2})
    check_methods(OFFLINE_MIXTURE)


# --- line-style augmentation of real line art ------------------------------------------------------

from irodori.data import augment_lines  # noqa: E402


def _one_line_drawing(size=64, width=1):
    line = np.ones((size, size), np.float32)
    line[size // 2: size // 2 + width, 8:size - 8] = 0.0
    line[8:size - 8, size // 4] = 0.0
    return line


@pytest.mark.parametrize("seed", range(6))
def test_augmented_lines_stay_in_range_keep_white_paper_and_are_deterministic(seed):
    line = _one_line_drawing()
    out = augment_lines(line, np.random.default_rng(seed), p_width=1, p_gaps=1, p_grey=1, p_jitter=1)
    assert out.shape == line.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1
    assert np.array_equal(out, augment_lines(line, np.random.default_rng(seed), 1, 1, 1, 1))
    assert np.array_equal(line, _one_line_drawing()), "the input is not modified"
    far = cv2.distanceTransform((line > 0.5).astype(np.uint8), cv2.DIST_L2, 3) > 5
    assert out[far].min() > 0.999, "paper farther than 5 px from ink stays white"
    assert (out < 0.75).sum() > 0.5 * (line < 0.5).sum(), "the drawing survives"


def test_line_width_changes_by_one_pixel_and_thin_lines_survive_thinning():
    thick = _one_line_drawing(width=5)
    widths = set()
    for seed in range(12):
        out = augment_lines(thick, np.random.default_rng(seed), p_width=1, p_gaps=0, p_grey=0, p_jitter=0)
        widths.add(int((out[:, 40] < 0.5).sum()))
        thin = augment_lines(_one_line_drawing(), np.random.default_rng(seed), 1, 0, 0, 0)
        assert (thin[32, 8:56] < 0.5).all(), "a 1 px line is never erased"
    assert widths == {3, 7}  # 5 px thinned by 1 px per side, or thickened by 1 px per side


def test_gaps_break_lines_in_short_pieces_only():
    line = _one_line_drawing()
    for seed in range(8):
        out = augment_lines(line, np.random.default_rng(seed), p_width=0, p_gaps=1, p_grey=0, p_jitter=0)
        erased = (line < 0.5) & (out > 0.5)
        assert 1 <= erased.sum() <= 6 * 5 and ((out < 0.5) | (line > 0.5) | erased).all()


def test_grey_lines_are_lighter_and_soft():
    line = _one_line_drawing(width=3)
    out = augment_lines(line, np.random.default_rng(3), p_width=0, p_gaps=0, p_grey=1, p_jitter=0)
    assert 0 < out[33, 32] <= 0.55 and out.min() > 0
    assert len(np.unique(np.round(out, 3))) > 5, "anti-aliased: intermediate tones"
