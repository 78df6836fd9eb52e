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
