"""The API against a hostile client: each input that once reached a 500, a stall or a leak, answered with a 4xx."""

import asyncio
import json
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from irodori.colorize.pipeline import Colorizer  # noqa: E402
from irodori.web.app import create_app  # noqa: E402
from test_web_api import (  # noqa: E402
    TEST_HOSTS, GatedColorizer, colorizer, lineart_png, make_app, model_file, png_bytes, post)

__all__ = ["colorizer", "model_file"]  # fixtures shared with test_web_api


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def with_chunk(png: bytes, kind: bytes, data: bytes) -> bytes:
    """``png`` with one more chunk right after IHDR (8-byte signature + 25-byte IHDR)."""
    return png[:33] + chunk(kind, data) + png[33:]


@pytest.fixture
def client(colorizer):
    with TestClient(make_app(colorizer)) as c:
        yield c


def test_a_png_with_garbage_exif_is_colorized(client):
    r = post(client, lineart=with_chunk(lineart_png(), b"eXIf", b"\x00\x01\x02\x03"))
    assert r.status_code == 200, r.text


def test_a_hint_png_with_a_broken_second_idat_is_422(client):
    rgba = np.zeros((144, 200, 4), np.uint8)
    rgba[50, 50] = (255, 0, 0, 255)
    data = zlib.compress(b"".join(b"\x00" + row.tobytes() for row in rgba))
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 200, 144, 8, 6, 0, 0, 0))
    broken = (b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", data[:len(data) // 2])
              + chunk(b"IDAT", b"garbage!" * 5) + chunk(b"IEND", b""))
    r = post(client, hints=broken)
    assert r.status_code == 422 and "hints" in r.json()["detail"]


@pytest.mark.parametrize("entry", ['{"x": 1' + "0" * 400 + ', "y": 1, "color": "#ff0000"}',
                                   '{"x": 1, "y": 1, "color": "#ff0000", "size": NaN}',
                                   '{"x": 1, "y": 1, "color": "#ff0000", "size": Infinity}',
                                   '{"x": -Infinity, "y": 1, "color": "#ff0000"}',
                                   '{"x": 1, "y": 1, "color": "#ff0000\\n"}'])
def test_hint_numbers_past_floats_range_are_422_naming_the_entry(client, entry):
    r = post(client, hints=f"[{entry}]")
    assert r.status_code == 422 and "hint #0" in r.json()["detail"]
    assert len(r.json()["detail"]) < 300


def test_deeply_nested_hint_json_is_422(client):
    r = post(client, hints="[" * 1000 + "]" * 1000)
    assert r.status_code == 422
    r = post(client, hints="[" * 100_000)
    assert r.status_code == 422


def test_a_line_art_one_pixel_tall_is_refused_before_any_work(client):
    header = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16_000_000, 1, 8, 0, 0, 0, 0))
    r = post(client, lineart=header + chunk(b"IEND", b""))
    assert r.status_code in (415, 422)
    thin = png_bytes(Image.new("L", (4000, 2), 255))
    r = post(client, lineart=thin)
    assert r.status_code == 422 and "too thin" in r.json()["detail"]


def test_hints_that_would_paint_the_image_many_times_over_are_422(client):
    hints = [{"x": 100, "y": 70, "color": "#ff0000", "size": 512}] * 200
    r = post(client, hints=hints)
    assert r.status_code == 422 and "area" in r.json()["detail"]
    few = post(client, hints=hints[:2])
    assert few.status_code == 200


def test_a_full_queue_refuses_without_parsing_the_body():
    fake = GatedColorizer()
    app = make_app(fake, workers=1, queue_size=0)
    reads = []

    def scope(path="/api/colorize"):
        return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
                "headers": [(b"host", b"t"), (b"content-type", b"multipart/form-data; boundary=zz")],
                "client": ("t", 1), "server": ("t", 80)}

    async def scenario():
        import httpx

        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            first = asyncio.ensure_future(client.post("/api/colorize", files={"lineart": ("l.png", lineart_png())}))
            while not fake.started.is_set():
                await asyncio.sleep(0.01)
            sent = []

            async def receive():  # a body past what a refusal drains: read once, never parsed
                reads.append(1)
                return {"type": "http.request", "body": b"x" * (2 << 20), "more_body": True}

            async def send(message):
                sent.append(message)

            await asyncio.wait_for(app(scope(), receive, send), 10)
            fake.gate.set()
            await first
            return sent

    sent = asyncio.run(scenario())
    assert sent[0]["status"] == 503 and len(reads) == 1
    assert dict(sent[0]["headers"])[b"retry-after"].isdigit()


def test_a_stalled_upload_gets_408():
    app = create_app(GatedColorizer(), allowed_hosts=TEST_HOSTS, read_timeout=0.2)
    head = b'--zz\r\nContent-Disposition: form-data; name="lineart"; filename="a.png"\r\n\r\n'
    calls = []

    async def receive():
        calls.append(1)
        if len(calls) > 1:
            await asyncio.sleep(60)  # the client stops sending
        return {"type": "http.request", "body": head, "more_body": True}

    sent = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/api/colorize", "raw_path": b"/api/colorize", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"t"), (b"content-type", b"multipart/form-data; boundary=zz")],
             "client": ("t", 1), "server": ("t", 80)}
    asyncio.run(asyncio.wait_for(app(scope, receive, send), 10))
    assert sent[0]["status"] == 408


def test_only_allowed_hosts_and_same_origin_posts_are_answered(colorizer):
    with TestClient(create_app(colorizer), base_url="http://localhost:7860") as c:
        assert c.get("/api/health").status_code == 200
        assert c.get("/api/health", headers={"host": "127.0.0.1:7860"}).status_code == 200
        assert c.get("/api/health", headers={"host": "[::1]:7860"}).status_code == 200
        rebound = c.get("/api/model", headers={"host": "attacker.example:7860"})
        assert rebound.status_code == 421 and "--allow-host" in rebound.json()["detail"]
        files = {"lineart": ("l.png", lineart_png(), "image/png")}
        cross = c.post("/api/colorize", files=files, headers={"origin": "http://attacker.example"})
        assert cross.status_code == 403
        same = c.post("/api/colorize", files=files, headers={"origin": "http://localhost:7860"})
        assert same.status_code == 200
        assert c.post("/api/colorize", files=files).status_code == 200  # scripts send no Origin
    with TestClient(create_app(colorizer, allowed_hosts=("*",)), base_url="http://anything.example") as c:
        assert c.get("/api/health").status_code == 200


def test_every_answer_carries_the_csp_even_errors_and_static_files(client):
    for answer in (client.get("/"), client.get("/static/index.html"), client.get("/static/app.js"),
                   client.get("/api/health"), post(client, hints="[")):
        assert "default-src 'self'" in answer.headers["content-security-policy"]
        assert answer.headers["x-content-type-options"] == "nosniff"


def test_the_model_card_names_no_local_paths(model_file):
    colorizer = Colorizer.from_pretrained(model_file)
    colorizer.config = colorizer.config.__class__(**{**colorizer.config.__dict__, "data": colorizer.config.data
                                                     .__class__(root="/home/someone/secret/corpus")})
    colorizer.meta = {**colorizer.meta, "source": str(model_file), "lineage": [{"data": "/srv/x/data"}]}
    with TestClient(make_app(colorizer)) as c:
        text = c.get("/api/model").text
    assert "/home/someone" not in text and "/srv/x" not in text and str(model_file.parent) not in text
    card = json.loads(text)
    assert card["config"]["data"]["root"] == "corpus"


def test_the_image_library_keeps_its_pixels_after_the_guards(client):
    """The guards change nothing for a good request: the answer is the line art's size, its lines dark."""
    r = post(client)
    from io import BytesIO

    image = np.asarray(Image.open(BytesIO(r.content)).convert("L"))
    assert image.shape == (144, 200) and image[10, 50] < 128


def test_serve_answers_for_loopback_its_own_address_and_allow_host_names():
    from irodori.cli.serve import allowed_hosts

    assert allowed_hosts("127.0.0.1", []) == ("localhost", "127.0.0.1", "::1")
    assert allowed_hosts("192.168.1.5", ["art.local"])[-2:] == ("192.168.1.5", "art.local")
    assert allowed_hosts("0.0.0.0", []) == ("*",)  # every interface: the names clients use are unknown
    assert "*" not in allowed_hosts("0.0.0.0", ["art.local"])


def test_answers_from_the_guards_carry_the_security_headers_once(colorizer):
    with TestClient(create_app(colorizer, max_upload_bytes=1000), base_url="http://localhost") as c:
        for answer in (c.get("/", headers={"host": "elsewhere.example"}),
                       c.post("/api/colorize", content=b"x" * 2000, headers={"content-type": "text/plain"})):
            assert answer.status_code in (413, 421)
            assert answer.headers.get_list("content-security-policy") == [answer.headers["content-security-policy"]]
            assert "default-src 'self'" in answer.headers["content-security-policy"]
