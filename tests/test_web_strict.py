"""The web app's second hardening pass (issue 27), in-process: the LA TIFF, hint BOMs, large hint fields,
multipart preambles and ``filename*`` parts are answered like any upload; numbers are plain ASCII digits;
Host and Origin are compared strictly; ``HEAD /`` and the docs answer under the CSP; ``/api/model`` names no
path, even inside a sentence; an unexpected error is a 500 that still carries the security headers."""

import io
import json

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from irodori.web.app import public  # noqa: E402
from irodori.web.limits import PAGE_CSP  # noqa: E402
from test_web_api import colorizer, make_app, model_file  # noqa: E402

__all__ = ["colorizer", "model_file"]
BOUNDARY = "zzBOUNDARYzz"


@pytest.fixture(scope="module")
def client(colorizer):
    with TestClient(make_app(colorizer), raise_server_exceptions=False) as c:
        yield c


def _png(w: int = 48, h: int = 40) -> bytes:
    a = np.full((h, w), 255, np.uint8)
    a[h // 2] = 0
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG")
    return buf.getvalue()


def _multipart(parts: list[tuple[bytes, bytes]], preamble: bytes = b"") -> tuple[bytes, dict]:
    body = preamble
    for disposition, data in parts:
        body += b"--" + BOUNDARY.encode() + b"\r\nContent-Disposition: form-data; " + disposition + b"\r\n\r\n"
        body += data + b"\r\n"
    body += b"--" + BOUNDARY.encode() + b"--\r\n"
    return body, {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}


HINTS = json.dumps([{"x": 5, "y": 5, "color": "#ff0000"}]).encode()


def test_a_grey_tiff_with_associated_alpha_is_colored_not_a_500(client):
    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, np.full((64, 64, 2), 255, np.uint8), photometric="minisblack", extrasamples=["assocalpha"])
    r = client.post("/api/colorize", files={"lineart": ("la.tif", buf.getvalue(), "image/tiff")})
    assert r.status_code == 200, r.text


def test_hints_with_a_byte_order_mark_are_accepted_as_text_and_as_a_file(client):
    bom = b"\xef\xbb\xbf" + HINTS
    as_text = client.post("/api/colorize", files={"lineart": ("l.png", _png())}, data={"hints": bom.decode("utf-8")})
    as_file = client.post("/api/colorize", files={"lineart": ("l.png", _png()), "hints": ("h.json", bom)})
    assert as_text.status_code == as_file.status_code == 200, (as_text.text, as_file.text)


def test_a_hints_text_field_over_1_mb_is_read_like_the_same_hints_as_a_file(client):
    body, headers = _multipart([(b'name="lineart"; filename="l.png"', _png()),
                                (b'name="hints"', b" " * (1100 * 1024) + HINTS)])
    r = client.post("/api/colorize", content=body, headers=headers)
    assert r.status_code == 200, r.text


def test_a_multipart_preamble_is_skipped(client):
    body, headers = _multipart([(b'name="lineart"; filename="l.png"', _png())], preamble=b"This is a preamble.\r\n")
    assert client.post("/api/colorize", content=body, headers=headers).status_code == 200


def test_a_file_part_named_only_by_filename_star_is_a_file(client):
    body, headers = _multipart([(b"name=\"lineart\"; filename*=UTF-8''l%C3%A9.png", _png())])
    r = client.post("/api/colorize", content=body, headers=headers)
    assert r.status_code == 200, r.text


def test_a_malformed_multipart_body_is_400_with_a_reason(client):
    body, headers = _multipart([(b'filename="l.png"', _png())])  # no name
    r = client.post("/api/colorize", content=body, headers=headers)
    assert r.status_code == 400 and "multipart" in r.json()["detail"]


@pytest.mark.parametrize("value", [" 64", "64 ", "6_4", "\u0666\u0664", "\uff16\uff14", "1 024", "+64", "64.0"])
def test_a_resolution_that_is_not_plain_ascii_digits_is_422(client, value):
    r = client.post("/api/colorize", files={"lineart": ("l.png", _png())}, data={"resolution": value})
    assert r.status_code == 422, (value, r.status_code)


def test_head_of_the_page_is_answered(client):
    r = client.head("/")
    assert r.status_code == 200 and r.headers["content-security-policy"] == PAGE_CSP


@pytest.mark.parametrize("host", ["t:80@evil.example", "t/x", "t:", "t:80:80", "[::1", "t x"])
def test_a_host_header_with_more_than_a_name_and_port_is_400(client, host):
    r = client.get("/api/health", headers={"host": host})
    assert r.status_code == 400 and r.headers["content-security-policy"] == PAGE_CSP


@pytest.mark.parametrize("origin", ["https://t", "ws://t", "http://t/", "HTTP://evil.example", "null"])
def test_an_origin_that_differs_in_scheme_or_anything_else_is_403(client, origin):
    r = client.post("/api/colorize", files={"lineart": ("l.png", _png())}, headers={"host": "t", "origin": origin})
    assert r.status_code == 403


def test_two_origin_headers_are_403_whichever_comes_last(client):
    for pair in (("http://evil.example", "http://t"), ("http://t", "http://evil.example")):
        headers = [("host", "t"), *(("origin", o) for o in pair)]
        r = client.post("/api/colorize", files={"lineart": ("l.png", _png())}, headers=headers)
        assert r.status_code == 403, pair


def test_the_same_origin_is_still_allowed(client):
    r = client.post("/api/colorize", files={"lineart": ("l.png", _png())}, headers={"host": "t", "origin": "http://t"})
    assert r.status_code == 200


def test_paths_inside_sentences_are_cut_to_their_last_part_but_urls_and_fractions_are_kept():
    assert public({"description": "trained on /root/x/corpus (see /srv/a/b.md)."}) == {
        "description": "trained on corpus (see b.md)."}
    assert public(["C:\\Users\\me\\run", "~/runs/a", "https://example.org/a/b", "1/2 of it"]) == [
        "run", "a", "https://example.org/a/b", "1/2 of it"]


def test_the_docs_pages_and_their_scripts_are_served_from_this_server(client):
    docs, redoc = client.get("/docs"), client.get("/redoc")
    assert docs.status_code == redoc.status_code == 200
    assert docs.headers["content-security-policy"] == PAGE_CSP
    assert "cdn" not in (docs.text + redoc.text).lower()
    for script in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        assert client.get(f"/static/docs/vendor/{script}").status_code == 200, script
    assert "script-src 'self';" in redoc.headers["content-security-policy"]


def test_an_unexpected_error_is_a_500_with_the_security_headers(colorizer):
    app = make_app(colorizer)

    @app.get("/boom")
    async def boom():
        raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom")
    assert r.status_code == 500 and r.headers["content-security-policy"] == PAGE_CSP
    assert "boom" not in r.text


def test_freed_memory_goes_back_to_the_os_after_a_large_request_only(colorizer, monkeypatch):
    from irodori.web import uploads

    calls = []
    monkeypatch.setattr(uploads, "release_freed_memory", lambda: calls.append(1) or True)
    monkeypatch.setattr(uploads, "TRIM_PIXELS", 1000)
    uploads.colorize_upload(colorizer, uploads.ColorizeForm(_png(48, 40)), 10**6)  # 1920 px: over
    assert calls == [1]
    uploads.colorize_upload(colorizer, uploads.ColorizeForm(_png(30, 30)), 10**6)  # 900 px: under
    assert calls == [1]


def test_an_upload_is_decoded_once_and_its_options_checked_in_one_place(colorizer, monkeypatch):
    from irodori.colorize import pipeline
    from irodori.errors import InputError
    from irodori.web import uploads

    calls = []
    for module in (uploads, pipeline):
        real = module.lineart_to_unit
        monkeypatch.setattr(module, "lineart_to_unit", lambda *a, real=real, **k: calls.append(1) or real(*a, **k))
    out = uploads.colorize_upload(colorizer, uploads.ColorizeForm(_png(30, 30), shading=0.5, max_gap=4), 10**6)
    assert calls == [1] and (out["shading_strength"], out["max_gap"]) == (0.5, 4)
    with pytest.raises(InputError, match="resolution must lie in 16..4096"):  # a server allowing more than the model
        uploads.colorize_upload(colorizer, uploads.ColorizeForm(_png(30, 30), resolution=5000), 10**6)
