"""Fuzzing the API in-process: generated image bytes, PNG chunks, EXIF, hint JSON and form fields never get a
500 or an exception out of the app (the test client re-raises any), only 200 or a 4xx that says why.

Seeds are fixed (``derandomize``), so a run is repeatable; ``benchmarks/fuzz.py`` sends many more inputs to a
real server."""

import io
import json
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from test_web_api import colorizer, make_app, model_file  # noqa: E402

__all__ = ["colorizer", "model_file"]  # fixtures shared with test_web_api
ANSWERS = {200, 400, 413, 415, 422}
FUZZ = settings(derandomize=True, deadline=None, max_examples=250,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def client(colorizer):
    with TestClient(make_app(colorizer, max_pixels=2_000_000, max_upload_bytes=2 * 2**20)) as c:
        yield c


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(mode: str, w: int, h: int, seed: int) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 256, (h, w, 4), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr, "RGBA").convert(mode).save(buf, format="PNG")
    return buf.getvalue()


small_png = st.builds(_png, st.sampled_from(["L", "RGB", "RGBA", "P", "LA", "1", "I;16"]),
                      st.integers(1, 96), st.integers(1, 96), st.integers(0, 2**16))
chunk_kind = st.sampled_from([b"eXIf", b"iCCP", b"zTXt", b"tEXt", b"iTXt", b"IDAT", b"PLTE", b"tRNS", b"IHDR",
                              b"gAMA", b"pHYs", b"acTL", b"xxxx"])


@st.composite
def mutated_png(draw) -> bytes:
    """A valid PNG, then one of: a chunk inserted after IHDR, bytes flipped, cut short, or junk appended."""
    png = draw(small_png)
    how = draw(st.sampled_from(["chunk", "flip", "truncate", "append", "header"]))
    if how == "chunk":
        return png[:33] + _chunk(draw(chunk_kind), draw(st.binary(max_size=64))) + png[33:]
    if how == "flip":
        out = bytearray(png)
        for pos in draw(st.lists(st.integers(0, len(png) - 1), min_size=1, max_size=8)):
            out[pos] ^= draw(st.integers(1, 255))
        return bytes(out)
    if how == "truncate":
        return png[:draw(st.integers(0, len(png) - 1))]
    if how == "append":
        return png + draw(st.binary(max_size=64))
    w, h = draw(st.integers(0, 2**31 - 1)), draw(st.integers(0, 2**31 - 1))  # any size the header claims
    return png[:8] + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) + png[33:]


@st.composite
def jpeg_with_exif(draw) -> bytes:
    im = Image.new("RGB", (draw(st.integers(8, 64)), draw(st.integers(8, 64))), "white")
    buf = io.BytesIO()
    exif = b"Exif\x00\x00" + draw(st.binary(max_size=80))
    im.save(buf, format="JPEG", exif=exif)
    return buf.getvalue()


@st.composite
def tiff_image(draw) -> bytes:
    """A TIFF in one of many modes: grey, RGB or CMYK, 8-32 bit, int or float, with 0-2 extra samples."""
    import tifffile

    photometric, channels = draw(st.sampled_from([("minisblack", 1), ("rgb", 3), ("separated", 4)]))
    extra = draw(st.lists(st.sampled_from(["assocalpha", "unassalpha", "unspecified"]), max_size=2, unique=True))
    dtype = draw(st.sampled_from([np.uint8, np.uint16, np.int16, np.float32]))
    shape = (draw(st.integers(1, 32)), draw(st.integers(1, 32)), channels + len(extra))
    data = np.full(shape, draw(st.integers(0, 255)), dtype)
    buf = io.BytesIO()
    try:
        tifffile.imwrite(buf, data[..., 0] if shape[2] == 1 else data, photometric=photometric,
                         planarconfig="contig" if shape[2] > 1 else None, **({"extrasamples": extra} if extra else {}))
    except ValueError:  # a combination tifffile itself does not write
        return _png("RGB", shape[1], shape[0], 0)
    return buf.getvalue()


image_bytes = st.one_of(mutated_png(), jpeg_with_exif(), st.binary(max_size=200), small_png, tiff_image())
scalar = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True, allow_infinity=True),
                   st.text(max_size=12), st.just("#ff00ff"), st.just("#FFFFFF"))
hint_entry = st.dictionaries(st.sampled_from(["x", "y", "color", "size", "z"]), scalar, max_size=5)
json_value = st.recursive(scalar, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner,
                                                                                                max_size=4), max_leaves=12)
hint_field = st.one_of(st.none(), st.lists(hint_entry, max_size=6).map(json.dumps), json_value.map(json.dumps),
                       st.lists(hint_entry, max_size=3).map(lambda v: "\ufeff" + json.dumps(v)),  # a BOM
                       st.text(max_size=40), st.binary(max_size=60), mutated_png())
form_value = st.one_of(st.none(), st.text(max_size=8), st.sampled_from(["0", "1", "16", "64", "-1", "1e9", "regions",
                                                                        "model", "hints-only", "true", "NaN"]))


def _post(client, lineart, hints, resolution, layers, flats):
    files = {"lineart": ("l", lineart, "application/octet-stream")}
    data = {k: v for k, v in (("resolution", resolution), ("layers", layers), ("flats", flats)) if v is not None}
    if isinstance(hints, bytes):
        files["hints"] = ("h", hints, "application/octet-stream")
    elif hints is not None:
        data["hints"] = hints
    return client.post("/api/colorize", files=files, data=data)


@FUZZ
@given(lineart=image_bytes)
def test_no_line_art_bytes_get_a_500(client, lineart):
    r = _post(client, lineart, None, None, None, None)
    assert r.status_code in ANSWERS, r.text


@FUZZ
@given(hints=hint_field, resolution=form_value, layers=form_value, flats=form_value)
def test_no_hints_or_form_fields_get_a_500(client, hints, resolution, layers, flats):
    r = _post(client, _png("L", 48, 40, 0), hints, resolution, layers, flats)
    assert r.status_code in ANSWERS, r.text
    if r.status_code != 200:
        assert r.json()["detail"]


@settings(derandomize=True, deadline=None, max_examples=60)
@given(body=st.binary(max_size=300), content_type=st.one_of(st.text(max_size=40),
                                                            st.just("multipart/form-data; boundary=x")))
def test_no_raw_body_gets_a_500(client, body, content_type):
    try:
        headers = {"content-type": content_type}
        r = client.post("/api/colorize", content=body, headers=headers)
    except (UnicodeEncodeError, ValueError):  # the client itself refuses such a header: nothing to send
        return
    assert r.status_code in ANSWERS, r.text


header_value = st.one_of(st.sampled_from(["t", "T:80", "t:80@evil.example", "evil.example", "t:", "[::1", "t x", "",
                                          "http://t", "https://t", "ws://t", "null", "http://t/", "HTTP://T"]),
                         st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=20))


@settings(derandomize=True, deadline=None, max_examples=120,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hosts=st.lists(header_value, min_size=1, max_size=2), origins=st.lists(header_value, max_size=2))
def test_no_duplicate_or_odd_host_and_origin_gets_a_500_or_passes_unless_exactly_right(client, hosts, origins):
    headers = [("host", h) for h in hosts] + [("origin", o) for o in origins]
    r = client.post("/api/colorize", files={"lineart": ("l", _png("L", 24, 24, 0), "image/png")}, headers=headers)
    assert r.status_code in {200, 400, 403, 421, 422}, r.text
    if r.status_code == 200:
        assert len(hosts) == 1 and hosts[0].lower() in ("t", "t:80") and len(origins) <= 1
        assert not origins or origins[0].lower() == f"http://{hosts[0].lower()}"
