"""The painting page in real headless Chromium (Playwright), against a live server on a loopback port.

A random tiny network does not obey hints, so the server runs a stand-in that does, exactly: every
closed white region of the line art takes the color of the hints inside it.
"""

import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")

from irodori.config import load_config  # noqa: E402
from irodori.pipeline import Colorizer, ColorizeResult, lineart_to_unit  # noqa: E402
from irodori.web.app import create_app  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
W, H = 200, 144
RED, BLUE = (255, 0, 0), (0, 0, 255)
LEFT_DOT, RIGHT_DOT = (55, 72), (145, 72)


class FloodFillColorizer(Colorizer):
    """Obeys hints exactly: each closed white region gets the mean color of the hints inside it."""

    def __init__(self):
        super().__init__(torch.nn.Identity(), load_config("tiny"), {"step": 0, "note": "flood-fill stand-in"})

    def __call__(self, lineart, hints=None, *, resolution=None, flats="regions", **_):
        line = lineart_to_unit(lineart, self.max_pixels)
        h, w = line.shape
        layer = self.hint_layer(hints, h, w)
        labels, _ = ndimage.label(line > 0.5)
        flat = np.ones((h, w, 3), np.float32)
        for region in np.unique(labels[layer.mask & (labels > 0)]):
            inside = labels == region
            flat[inside] = layer.rgb[layer.mask & inside].mean(axis=0) / 255.0
        to8 = lambda a: (np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)  # noqa: E731
        ink = np.zeros((h, w, 4), np.uint8)
        ink[..., 3] = to8(1 - line)
        hinted = np.concatenate([layer.rgb, layer.mask[..., None].astype(np.uint8) * 255], axis=2)
        return ColorizeResult(Image.fromarray(to8(flat * line[..., None])), Image.fromarray(ink, "RGBA"),
                              Image.fromarray(to8(flat)), Image.new("RGB", (w, h), "white"),
                              Image.fromarray(hinted, "RGBA"), flats)


def two_region_lineart(path: Path) -> Path:
    """A frame split down the middle: two closed regions, plus the margin outside the frame."""
    a = np.full((H, W), 255, np.uint8)
    a[9:12, 9:W - 9] = a[H - 12:H - 9, 9:W - 9] = 0
    a[9:H - 9, 9:12] = a[9:H - 9, W - 12:W - 9] = a[9:H - 9, 99:102] = 0
    Image.fromarray(a).save(path)
    return path


@pytest.fixture(scope="module")
def server_url():
    app = create_app(FloodFillColorizer(), workers=1, queue_size=4, model_name="flood-fill")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    server.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture(scope="module")
def browser():
    executable = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if executable is None:
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield b
        b.close()


def click_image(page, selector, x, y):
    """Click the pixel (x, y) of the line art, wherever the canvas sits on screen."""
    box = page.locator(selector).bounding_box()
    page.mouse.click(box["x"] + (x + 0.5) * box["width"] / W, box["y"] + (y + 0.5) * box["height"] / H)


def wait_for_preview(page):
    page.wait_for_function(
        "() => document.body.dataset.busy === '0' && document.querySelector('#result-image').dataset.revision"
        " === document.querySelector('#hint-canvas').dataset.revision", timeout=15000)


READ_RESULT = """async (points) => {
  const img = document.querySelector('#result-image');
  await img.decode();
  const c = new OffscreenCanvas(img.naturalWidth, img.naturalHeight);
  const ctx = c.getContext('2d');
  ctx.drawImage(img, 0, 0);
  return {size: [img.naturalWidth, img.naturalHeight],
          pixels: points.map(([x, y]) => Array.from(ctx.getImageData(x, y, 1, 1).data.slice(0, 3)))};
}"""

HINT_ALPHA = """([x, y]) => document.querySelector('#hint-canvas').getContext('2d').getImageData(x, y, 1, 1).data[3]"""


def test_paint_two_hints_preview_undo_and_download(browser, server_url, tmp_path):
    lineart = two_region_lineart(tmp_path / "two-regions.png")
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    try:
        page.goto(server_url)
        page.wait_for_function("() => document.querySelector('#model-name').textContent.includes('flood-fill')")
        with page.expect_file_chooser() as chooser:
            page.click("#open-button")
        chooser.value.set_files(str(lineart))
        wait_for_preview(page)  # the unhinted preview comes first

        page.click("#tool-dot")
        page.fill("#color", "#ff0000")
        click_image(page, "#hint-canvas", *LEFT_DOT)
        page.fill("#color", "#0000ff")
        click_image(page, "#hint-canvas", *RIGHT_DOT)
        assert page.evaluate(HINT_ALPHA, list(RIGHT_DOT)) == 255
        wait_for_preview(page)

        probes = [(30, 30), (80, 120), LEFT_DOT, (120, 30), (180, 120), RIGHT_DOT, (3, 3)]
        seen = page.evaluate(READ_RESULT, [list(p) for p in probes])
        assert seen["size"] == [W, H]
        expected = [RED] * 3 + [BLUE] * 3 + [(255, 255, 255)]
        for probe, got, want in zip(probes, seen["pixels"], expected):
            assert np.abs(np.subtract(got, want)).max() <= 8, f"pixel {probe}: {got}, expected about {want}"
        assert page.locator("#palette button").first.get_attribute("data-color") == "#0000ff", "recent colors first"

        revision = page.get_attribute("#hint-canvas", "data-revision")
        page.keyboard.press("Control+z")
        assert page.get_attribute("#hint-canvas", "data-revision") != revision
        assert page.evaluate(HINT_ALPHA, list(RIGHT_DOT)) == 0, "undo removed the blue dot"
        assert page.evaluate(HINT_ALPHA, list(LEFT_DOT)) == 255, "and only the blue dot"
        wait_for_preview(page)
        right = page.evaluate(READ_RESULT, [list(RIGHT_DOT)])["pixels"][0]
        assert min(right) >= 247, f"the right region is white again after undo, got {right}"

        with page.expect_download() as download:
            page.click("#download-result")
        assert download.value.suggested_filename == "two-regions.colored.png"
        data = Path(download.value.path()).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        page.click("#view-overlay")
        assert not page.is_visible("#result-pane")
        assert page.is_hidden("#error")
        assert not problems, problems
    finally:
        context.close()


def test_server_errors_are_shown_to_the_user(browser, server_url, tmp_path):
    """A line art the browser can show but the server refuses: the page shows the server's own detail."""
    page = browser.new_page()
    try:
        page.goto(server_url)
        tiny = tmp_path / "one-pixel.png"
        Image.new("L", (1, 1), 255).save(tiny)
        page.route("**/api/colorize", lambda route: route.fulfill(
            status=422, content_type="application/json", body='{"detail": "hints: hint #0: missing color"}'))
        page.set_input_files("#file-input", str(tiny))
        page.wait_for_selector("#error:not([hidden])", timeout=10000)
        assert "hint #0: missing color" in page.inner_text("#error-text")
    finally:
        page.close()
