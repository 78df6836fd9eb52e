"""The HTTP API: happy paths, every limit with its status code, the bounded queue, and the documents."""

import asyncio
import base64
import io
import json
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("fastapi")
import httpx  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from irodori.cli import main  # noqa: E402
from irodori.config import load_config  # noqa: E402
from irodori.models import build_generator  # noqa: E402
from irodori.colorize.pipeline import Colorizer, ColorizeResult  # noqa: E402
from irodori.release import save_release  # noqa: E402
from irodori.web.app import create_app, find_model_card  # noqa: E402

W, H = 200, 144
#: The host names the test clients send (TestClient's default and the ASGI transport's base URL).
TEST_HOSTS = ("testserver", "t")


def make_app(colorizer, **kwargs):
    return create_app(colorizer, allowed_hosts=TEST_HOSTS, **kwargs)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    torch.manual_seed(0)
    cfg = load_config("tiny", ["generator.output=residual", "data.size=64"])
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    save_release(build_generator(cfg.generator).state_dict(), cfg, path, step=7)
    (path.parent / "MODEL_CARD.md").write_text("# Tiny\n\nA random test model.\n")
    return path


@pytest.fixture(scope="module")
def colorizer(model_file):
    return Colorizer.from_pretrained(model_file)


@pytest.fixture
def client(colorizer, model_file):
    app = make_app(colorizer, model_name="tiny", model_card=find_model_card(model_file))
    with TestClient(app) as c:
        yield c


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def lineart_png(w=W, h=H) -> bytes:
    a = np.full((h, w), 255, np.uint8)
    a[10, 10:w - 10] = a[h - 11, 10:w - 10] = 0
    a[10:h - 10, 10] = a[10:h - 10, w - 11] = a[10:h - 10, w // 2] = 0
    return png_bytes(Image.fromarray(a))


def post(client, lineart=None, hints=None, **data):
    files = {"lineart": ("line.png", lineart if lineart is not None else lineart_png(), "image/png")}
    if isinstance(hints, bytes):
        files["hints"] = ("hints", hints, "application/octet-stream")
    elif hints is not None:
        data["hints"] = hints if isinstance(hints, str) else json.dumps(hints)
    return client.post("/api/colorize", files=files, data=data)


def test_colorize_returns_a_png_the_size_of_the_line_art(client):
    r = post(client, hints=[{"x": 50, "y": 70, "color": "#ff0000"}])
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(r.content))
    assert image.size == (W, H) and image.mode == "RGB"
    assert float(r.headers["x-colorize-seconds"]) >= 0


def test_hints_as_a_json_file_or_an_rgba_png(client):
    as_file = post(client, hints=json.dumps([{"x": 150, "y": 70, "color": "#0000ff", "size": 9}]).encode())
    assert as_file.status_code == 200, as_file.text
    layer = np.zeros((H // 2, W // 2, 4), np.uint8)  # half size, same aspect: rescaled
    layer[30:40, 20:30] = (0, 200, 0, 255)
    as_png = post(client, hints=png_bytes(Image.fromarray(layer, "RGBA")))
    assert as_png.status_code == 200, as_png.text
    assert Image.open(io.BytesIO(as_png.content)).size == (W, H)


def test_layers_answer_json_with_the_layers_and_layered_files(client):
    r = post(client, hints=[{"x": 50, "y": 70, "color": "#ff0000", "size": 5}], layers="1", resolution="64")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["width"], body["height"], body["hinted_pixels"]) == (W, H, 25)
    images = {k: Image.open(io.BytesIO(base64.b64decode(body[k]))) for k in ("image", "line", "flats", "shading")}
    assert {k: im.size for k, im in images.items()} == {k: (W, H) for k in images}
    assert images["line"].mode == "RGBA" and images["image"].mode == "RGB"
    assert np.asarray(images["line"])[10, 100, 3] == 255, "ink is opaque in the line layer"
    assert base64.b64decode(body["ora"])[:4] == b"PK\x03\x04" and base64.b64decode(body["psd"])[:4] == b"8BPS"
    assert body["flats_mode"] == "regions"


def region_map(body) -> np.ndarray:
    rgb = np.asarray(Image.open(io.BytesIO(base64.b64decode(body["claims"]["regions"]))).convert("RGB"), np.int64)
    return rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]


def test_claims_answer_says_which_region_each_hint_claimed_and_why_one_claimed_nothing(client):
    hints = [{"x": 50, "y": 70, "color": "#ff0000", "size": 5}, {"x": 100, "y": 70, "color": "#00ff00", "size": 3}]
    r = post(client, hints=hints, claims="1", resolution="64")
    assert r.status_code == 200, r.text
    body = r.json()
    assert "ora" not in body and "psd" not in body, "the layer files come only with layers=1"
    claims = body["claims"]
    assert claims["count"] == 2 and claims["unclaimed"] == 1
    labels = region_map(body)
    assert labels.shape == (H, W)
    left, wall = sorted(claims["hints"], key=lambda h: h["x"])
    assert left["regions"] == [labels[70, 50]] and left["reason"] is None
    assert wall["regions"] == [] and wall["reason"] == "shallow" and "line" in wall["why"]


def test_shading_and_max_gap_are_used_and_bad_values_are_422(client):
    a = np.full((H, W), 255, np.uint8)
    a[10, 10:W - 10] = a[H - 11, 10:W - 10] = 0
    a[10:H - 10, 10] = a[10:H - 10, W - 11] = 0
    a[10:H // 2 - 3, W // 2] = a[H // 2 + 3:H - 10, W // 2] = 0  # the middle wall has a 6 px gap
    line = png_bytes(Image.fromarray(a))
    regions = {}
    for gap in ("0", "8"):
        r = post(client, line, claims="1", resolution="64", max_gap=gap, shading="0.5")
        assert r.status_code == 200, r.text
        assert (r.json()["max_gap"], r.json()["shading_strength"]) == (int(gap), 0.5)
        labels = region_map(r.json())
        regions[gap] = labels[70, 50] == labels[70, 150]
    assert regions == {"0": True, "8": False}, "closing the 6 px gap splits the box in two"
    for field, value in [("shading", "2"), ("shading", "-0.1"), ("shading", "nan"), ("shading", "dark"),
                         ("max_gap", "65"), ("max_gap", "-1"), ("max_gap", "3.5")]:
        r = post(client, **{field: value})
        assert r.status_code == 422 and r.json()["detail"].startswith(f"{field}: expected"), (field, value, r.text)


def test_an_unknown_flats_mode_is_422(client):
    r = post(client, flats="rainbow")
    assert r.status_code == 422 and "flats" in r.json()["detail"]


def test_upload_over_the_limit_is_413(client):
    big = b"\0" * (30 * 2**20)
    r = client.post("/api/colorize", files={"lineart": ("big.png", big, "image/png")})
    assert r.status_code == 413
    assert "limit of 20 MB" in r.json()["detail"]
    # Without a Content-Length (chunked), the body is counted as it streams.
    streamed = client.post("/api/colorize", content=iter([big]),
                           headers={"content-type": "multipart/form-data; boundary=x"})
    assert streamed.status_code == 413


def test_a_streamed_body_stops_being_read_at_the_limit(colorizer):
    app = make_app(colorizer, max_upload_bytes=3 * 2**20)
    reads, sent = [], []

    head = b'--zz\r\nContent-Disposition: form-data; name="lineart"; filename="a.png"\r\n\r\n'

    async def receive():  # a well-formed file part that never ends
        reads.append(1)
        return {"type": "http.request", "body": head if len(reads) == 1 else b"a" * 2**20, "more_body": True}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/api/colorize", "raw_path": b"/api/colorize", "query_string": b"", "root_path": "",
             "headers": [(b"content-type", b"multipart/form-data; boundary=zz")], "client": ("t", 1),
             "server": ("t", 80)}
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 413
    assert len(reads) <= 5, "reading went on past the limit"


def test_too_many_pixels_is_413(colorizer):
    app = make_app(colorizer, max_pixels=10_000)
    with TestClient(app) as c:
        r = post(c)
    assert r.status_code == 413
    assert "200x144" in r.json()["detail"]


def test_not_an_image_is_415(client):
    r = client.post("/api/colorize", files={"lineart": ("notes.txt", b"just some text\n", "text/plain")})
    assert r.status_code == 415
    assert "not an image" in r.json()["detail"]
    truncated = lineart_png()[:200]
    assert post(client, lineart=truncated).status_code == 415
    not_multipart = client.post("/api/colorize", json={"lineart": "x"})
    assert not_multipart.status_code == 415


def test_malformed_hints_are_422_naming_the_problem(client):
    r = post(client, hints='[{"x": 10, "y": 10, "color": "#ff0000"')
    assert r.status_code == 422
    assert "not valid JSON" in r.json()["detail"]
    r = post(client, hints=[{"x": 5, "y": 5, "color": "#ff0000"}, {"x": 500, "y": 10, "color": "#00ff00"}])
    assert r.status_code == 422
    assert "hint #1" in r.json()["detail"] and "outside the 200x144" in r.json()["detail"]
    r = post(client, hints=[{"x": 5, "y": 5, "color": "red"}])
    assert r.status_code == 422 and "color" in r.json()["detail"]
    rgb = post(client, hints=png_bytes(Image.new("RGB", (W, H))))
    assert rgb.status_code == 422 and "alpha" in rgb.json()["detail"]


def test_other_bad_fields_are_422(client):
    missing = client.post("/api/colorize", files={"hints": ("h.json", b"[]", "application/json")})
    assert missing.status_code == 422 and "lineart" in missing.json()["detail"]
    assert post(client, resolution="huge").status_code == 422
    assert post(client, resolution="8").status_code == 422
    assert post(client, layers="maybe").status_code == 422


class GatedColorizer(Colorizer):
    """Blocks every call until ``gate`` is set; counts the calls that got to run."""

    def __init__(self):
        super().__init__(torch.nn.Identity(), load_config("tiny"), {"step": 0})
        self.gate, self.started, self.calls = threading.Event(), threading.Event(), 0

    def colorize(self, line, layer, options=None):  # what the web app calls, with the line art decoded
        self.calls += 1
        self.started.set()
        assert self.gate.wait(20), "the test never opened the gate"
        h, w = np.shape(line)
        white = Image.new("RGB", (w, h), "white")
        return ColorizeResult(white, Image.new("RGBA", (w, h)), white, white, Image.new("RGBA", (w, h)),
                              options.flats)


def test_a_full_queue_answers_503_with_retry_after():
    fake = GatedColorizer()
    app = make_app(fake, workers=1, queue_size=1)
    answers = {}
    with TestClient(app) as c:
        def send(name):
            answers[name] = post(c)

        running = threading.Thread(target=send, args=("running",))
        running.start()
        assert fake.started.wait(10)
        waiting = threading.Thread(target=send, args=("waiting",))
        waiting.start()
        deadline = time.monotonic() + 10
        while c.get("/api/health").json()["queue"]["waiting"] < 1:
            assert time.monotonic() < deadline, "the second request never queued"
            time.sleep(0.02)
        refused = post(c)
        assert refused.status_code == 503
        assert int(refused.headers["retry-after"]) >= 1
        assert "busy" in refused.json()["detail"]
        fake.gate.set()
        running.join(10)
        waiting.join(10)
        assert c.get("/api/health").json()["queue"] | {"mean_seconds": 0} == {
            "workers": 1, "queue_size": 1, "running": 0, "waiting": 0, "mean_seconds": 0}
    assert answers["running"].status_code == 200 and answers["waiting"].status_code == 200
    assert fake.calls == 2


def test_a_client_that_hangs_up_while_queued_costs_no_inference():
    fake = GatedColorizer()
    app = make_app(fake, workers=1, queue_size=2)
    request = httpx.Request("POST", "http://t/api/colorize", files={"lineart": ("l.png", lineart_png(), "image/png")})
    body = request.read()
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/api/colorize", "raw_path": b"/api/colorize", "query_string": b"", "root_path": "",
             "headers": [(k.lower(), v) for k, v in request.headers.raw], "client": ("t", 1), "server": ("t", 80)}

    async def scenario():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            first = asyncio.ensure_future(client.post("/api/colorize", files={"lineart": ("l.png", lineart_png())}))
            while not fake.started.is_set():
                await asyncio.sleep(0.01)
            messages = [{"type": "http.request", "body": body, "more_body": False}, {"type": "http.disconnect"}]
            sent = []

            async def receive():
                return messages.pop(0) if messages else {"type": "http.disconnect"}

            async def send(message):
                sent.append(message)

            await asyncio.wait_for(app(scope, receive, send), 10)
            fake.gate.set()
            return sent[0]["status"], (await first).status_code

    gone, first = asyncio.run(scenario())
    assert (gone, first) == (499, 200)
    assert fake.calls == 1, "the abandoned request never reached the model"


def test_health_model_and_openapi(client, colorizer):
    health = client.get("/api/health").json()
    assert health["status"] == "ok"
    assert health["limits"] == {"max_upload_bytes": 20 * 2**20, "max_pixels": 16_000_000, "max_resolution": 1024}
    model = client.get("/api/model").json()
    assert model["name"] == "tiny" and model["meta"]["step"] == 7 and model["native_size"] == 64
    assert model["config"] == json.loads(json.dumps(colorizer.config.to_dict()))
    assert model["card"].startswith("# Tiny")
    spec = client.get("/openapi.json").json()
    op = spec["paths"]["/api/colorize"]["post"]
    fields = op["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
    assert {"lineart", "hints", "resolution", "layers", "claims", "flats", "shading", "max_gap"} <= set(fields)
    assert (fields["shading"]["minimum"], fields["shading"]["maximum"], fields["max_gap"]["maximum"]) == (0, 1, 64)
    assert {"200", "413", "415", "422", "503"} <= set(op["responses"])
    assert set(op["responses"]["200"]["content"]) == {"image/png", "application/json"}
    assert {"/api/health", "/api/model"} <= set(spec["paths"])
    assert client.get("/docs").status_code == 200


def test_the_page_and_its_assets_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert 'id="hint-canvas"' in page.text
    for asset in ("app.js", "page.js", "painting.js", "colorizing.js", "views.js", "style.css", "favicon.svg",
                  "hints.js", "layer.js", "markdown.js", "palette.js", "radios.js", "server.js", "zoom.js"):
        answer = client.get(f"/static/{asset}")
        assert answer.status_code == 200
        assert "default-src 'self'" in answer.headers["content-security-policy"]
        assert answer.headers["cache-control"] == "no-cache" and answer.headers["x-content-type-options"] == "nosniff"


def test_serve_refuses_bad_arguments(capsys):
    assert main(["serve", "--workers", "0"]) == 2
    assert "--workers" in capsys.readouterr().err
