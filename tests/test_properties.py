"""Property-based tests: whatever the hint JSON, image mode or size, a clear error or a correct output."""

import io
import json

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from irodori.config import load_config
from irodori.errors import IrodoriError
from irodori.colorize.hint_input import HintError, draw_hints, parse_hint_json
from irodori.models import build_generator
from irodori.colorize.pipeline import Colorizer

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)
hint_entry = st.fixed_dictionaries(
    {"x": st.floats(-5, 70) | st.integers(-5, 70), "y": st.floats(-5, 50) | st.integers(-5, 50),
     "color": st.from_regex(r"#[0-9a-fA-F]{6}", fullmatch=True) | st.text(max_size=8)},
    optional={"size": st.integers(-2, 600) | st.floats(0, 10), "extra": st.integers()},
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values, st.lists(hint_entry, max_size=6)))
def test_hint_json_is_parsed_or_rejected_clearly(value):
    text = json.dumps(value)
    try:
        hints = parse_hint_json(text, 48, 64)
    except HintError as exc:
        assert str(exc)
        return
    layer = draw_hints(hints, 48, 64)
    assert layer.mask.shape == (48, 64)
    for h in hints:
        assert 0 <= h.x < 64 and 0 <= h.y < 48
        assert layer.mask[int(h.y), int(h.x)]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_as_hint_json(data):
    try:
        parse_hint_json(data, 10, 10)
    except HintError:
        pass


@pytest.fixture(scope="module")
def colorizer():
    torch.manual_seed(0)
    cfg = load_config("tiny", ["generator.output=residual", "data.size=32"])
    return Colorizer(build_generator(cfg.generator), cfg, max_pixels=200_000)


MODES = ["1", "L", "LA", "P", "PA", "RGB", "RGBA", "I;16", "I", "F", "CMYK"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mode=st.sampled_from(MODES), w=st.integers(1, 300), h=st.integers(1, 300), seed=st.integers(0, 2**16),
       fmt=st.sampled_from(["PNG", "TIFF", "JPEG", "WEBP"]))
def test_any_mode_and_size_gives_output_of_input_size(colorizer, tmp_path_factory, mode, w, h, seed, fmt):
    rng = np.random.default_rng(seed)
    base = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB")
    im = base.convert(mode) if mode not in ("I;16",) else Image.fromarray(
        rng.integers(0, 65536, (h, w), dtype=np.uint16))
    buf = io.BytesIO()
    try:
        im.save(buf, fmt)
    except (OSError, ValueError, KeyError):
        return  # this format cannot store this mode: nothing to test
    path = tmp_path_factory.mktemp("img") / f"x.{fmt.lower()}"
    path.write_bytes(buf.getvalue())
    try:
        res = colorizer(str(path), [{"x": 0, "y": 0, "color": "#123456"}])
    except IrodoriError as exc:
        assert str(exc)
        return
    with Image.open(path) as src:
        assert res.image.size == src.size
    arr = np.asarray(res.image)
    assert arr.dtype == np.uint8 and arr.shape[2] == 3


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=0, max_size=300))
def test_corrupt_files_give_clear_errors(tmp_path_factory, data):
    cfg = load_config("tiny", ["generator.output=residual"])
    col = Colorizer(build_generator(cfg.generator), cfg)
    path = tmp_path_factory.mktemp("bad") / "x.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + data)
    try:
        col(str(path))
    except IrodoriError as exc:
        assert str(path) in str(exc)
