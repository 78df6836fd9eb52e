"""The painting page in real headless Chromium (Playwright), against a live server on a loopback port that
runs the bundled model, at a desktop size (1280×800, mouse) and a phone size (390×844, touch).

The drawing has three closed shapes; two get a hint each, and each hinted shape's interior must come back
filled with its hint's color. At both sizes nothing may stick out of the viewport.
"""

import base64
import io
import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")

from conftest import serving  # noqa: E402

from irodori.colorize.hint_input import draw_hints, parse_hint_json  # noqa: E402
from irodori.colorize.pipeline import Colorizer  # noqa: E402
from irodori.web.app import create_app, find_model_card  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
W, H = 384, 256
#: (where to hint, color); the circle and the rectangle are hinted, the triangle is not.
HINTS = {"circle": ((92, 108), "#e8553f"), "rectangle": ((278, 86), "#3f7fe0")}
TRIANGLE = (290, 210)
SIZES = {"desktop": {"viewport": {"width": 1280, "height": 800}},
         "phone": {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}}


def shapes_lineart(path: Path) -> dict[str, np.ndarray]:
    """Save a drawing of a circle, a rectangle and a triangle (closed, 4 px lines); return each shape's
    interior, 3 px in from its lines, by name."""
    image = Image.new("L", (W, H), 255)
    draw = ImageDraw.Draw(image)
    draw.ellipse((24, 40, 160, 176), outline=0, width=4)
    draw.rectangle((200, 32, 356, 140), outline=0, width=4)
    draw.polygon([(210, 232), (290, 160), (370, 232)], outline=0, width=4)
    image.save(path)
    labels, _ = ndimage.label(np.asarray(image) > 127)
    points = {name: point for name, (point, _) in HINTS.items()} | {"triangle": TRIANGLE}
    return {name: ndimage.binary_erosion(labels == labels[y, x], iterations=3) for name, (x, y) in points.items()}


@pytest.fixture(scope="module")
def server_url():
    app = create_app(Colorizer.from_pretrained("demo"), workers=1, queue_size=4, model_name="demo",
                     model_card=find_model_card("demo"))
    with serving(uvicorn.Config(app, log_level="warning", lifespan="on")) as (_host, port):
        yield f"http://127.0.0.1:{port}/"


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


@pytest.fixture(scope="module")
def drawing(tmp_path_factory):
    path = tmp_path_factory.mktemp("lineart") / "shapes.png"
    return path, shapes_lineart(path)


class Page:
    """One browser context at one screen size, with the page open and its console watched."""

    def __init__(self, browser, url, size="desktop"):
        self.size = size
        self.context = browser.new_context(accept_downloads=True, **SIZES[size])
        self.page = self.context.new_page()
        self.problems = []
        self.page.on("pageerror", lambda exc: self.problems.append(str(exc)))
        self.page.on("console", lambda msg: self.problems.append(msg.text) if msg.type == "error" else None)
        self.page.goto(url)
        self.page.wait_for_function("() => document.querySelector('#model-name').textContent === 'demo'")

    def open(self, path):
        with self.page.expect_file_chooser() as chooser:
            self.page.click("#open-button")
        chooser.value.set_files(str(path))
        self.wait_for_preview()

    def wait_for_preview(self):
        self.page.wait_for_function(
            "() => document.body.dataset.busy === '0' && document.querySelector('#result-image').dataset.revision"
            " === document.querySelector('#hint-canvas').dataset.revision", timeout=20000)

    def point(self, x, y):
        """The screen position of the line art's pixel (x, y), wherever the canvas sits."""
        box = self.page.locator("#hint-canvas").bounding_box()
        w, h = self.page.evaluate("() => [document.querySelector('#hint-canvas').width, "
                                  "document.querySelector('#hint-canvas').height]")
        return box["x"] + (x + 0.5) * box["width"] / w, box["y"] + (y + 0.5) * box["height"] / h

    def tap(self, x, y):
        """A click with the mouse on the desktop, a tap with a finger on the phone."""
        if self.size == "phone":
            self.page.touchscreen.tap(*self.point(x, y))
        else:
            self.page.mouse.click(*self.point(x, y))

    def in_tools(self, action):
        """Run `action` with the whole tools panel in view (the sheet, on the phone)."""
        if self.size == "phone":
            self.page.click("#sheet-toggle")
        try:
            return action()
        finally:
            if self.size == "phone":
                self.page.click("#sheet-toggle")

    def download(self, selector):
        with self.page.expect_download() as download:
            self.page.click(selector)
        return download.value.suggested_filename, Path(download.value.path()).read_bytes()

    def canvas_png(self, selector):
        url = self.page.evaluate(f"() => document.querySelector('{selector}').toDataURL('image/png')")
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGBA"))

    def result(self):
        """The result image as shown (the current layer), H×W×3."""
        url = self.page.evaluate("""async () => {
          const img = document.querySelector('#result-image');
          await img.decode();
          const c = document.createElement('canvas');
          c.width = img.naturalWidth; c.height = img.naturalHeight;
          c.getContext('2d').drawImage(img, 0, 0);
          return c.toDataURL('image/png');
        }""")
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))

    def assert_fits(self, when):
        seen = self.page.evaluate(FITS)
        assert seen["scrollWidth"] <= seen["innerWidth"], f"{when}: the page scrolls sideways: {seen}"
        assert not seen["wide"], f"{when}: elements stick out of the {seen['innerWidth']} px viewport: {seen['wide']}"

    def close(self):
        self.context.close()


FITS = """() => {
  const vw = window.innerWidth;
  const wide = [...document.querySelectorAll('body *')].filter((e) => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden' && r.right > vw + 0.5;
  }).map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.getAttribute('class')}: right ${e.getBoundingClientRect().right}`);
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: vw, wide};
}"""


def filled(result, interior, color, tolerance=12):
    """The share of `interior` pixels within `tolerance` of `color` on every channel."""
    want = np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)])
    return float((np.abs(result[interior].astype(int) - want).max(axis=1) <= tolerance).mean())


def touch(cdp, kind, points):
    """One touch event: `points` are every finger down after it (CDP sends one event per changed finger)."""
    cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [
        {"x": x, "y": y, "id": i, "radiusX": 4, "radiusY": 4, "force": 1} for i, (x, y) in enumerate(points)]})


@pytest.mark.parametrize("size", list(SIZES))
def test_two_hints_fill_their_regions_and_the_page_fits(browser, server_url, drawing, size):
    path, interiors = drawing
    p = Page(browser, server_url, size)
    page = p.page
    try:
        p.assert_fits("the empty page")
        p.open(path)
        assert page.input_value("#resolution") == "auto"
        assert "512 px" in page.inner_text("#resolution option[value='auto']"), "Auto is the CLI's working size"

        page.click("#tool-dot")
        for (x, y), color in HINTS.values():
            page.fill("#color", color)
            p.tap(x, y)
            assert page.evaluate(f"() => document.querySelector('#hint-canvas').getContext('2d')"
                                 f".getImageData({x}, {y}, 1, 1).data[3]") == 255, f"a hint at {(x, y)}"
        p.wait_for_preview()
        assert page.inner_text("#status").startswith("Colorized 384×256 at 512 px")
        p.assert_fits("with a result")

        name, data = p.in_tools(lambda: p.download("#download-result"))
        assert name == "shapes.colored.png"
        result = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        assert result.shape == (H, W, 3)
        for shape, (_, color) in HINTS.items():
            share = filled(result, interiors[shape], color)
            assert share >= 0.9, f"{size}: {share:.0%} of the {shape}'s interior is {color}"

        if size == "phone":
            page.click("#sheet-toggle")
            assert page.is_visible("#download-psd") and page.get_attribute("#sheet-toggle", "aria-expanded") == "true"
            p.assert_fits("with the tools sheet open")
            page.click("#sheet-toggle")
            assert not page.is_visible("#download-psd"), "the sheet closes"
            assert page.is_visible("#tool-eraser") and page.is_visible("#undo"), "the dock keeps the main tools"
            # Two fingers zoom and never paint: the first finger's dot goes when the second lands.
            revision = page.get_attribute("#hint-canvas", "data-revision")
            cx, cy = p.point(*TRIANGLE)
            cdp = p.context.new_cdp_session(page)
            touch(cdp, "touchStart", [(cx - 12, cy)])
            touch(cdp, "touchStart", [(cx - 12, cy), (cx + 12, cy)])
            for d in (24, 40, 60):
                touch(cdp, "touchMove", [(cx - d, cy), (cx + d, cy)])
            touch(cdp, "touchEnd", [])
            assert page.get_attribute("#hint-canvas", "data-revision") == revision, "a pinch is not a stroke"
            assert (p.canvas_png("#hint-canvas")[..., 3] > 0).sum() == int(
                page.inner_text("#hint-count").split()[0].replace(",", "")), "the stroke was rolled back"
            assert page.evaluate(f"() => document.querySelector('#hint-canvas').getContext('2d')"
                                 f".getImageData({TRIANGLE[0]}, {TRIANGLE[1]}, 1, 1).data[3]") == 0
            assert page.is_visible("#zoom-fit") and "%" in page.inner_text("#zoom-fit"), "the pinch zoomed in"
            page.click("#zoom-fit")
            assert page.is_hidden("#zoom-fit")
        assert page.is_hidden("#error")
        assert not p.problems, p.problems
    finally:
        p.close()


def test_layers_flatting_layered_files_and_hint_files(browser, server_url, drawing, tmp_path):
    path, interiors = drawing
    p = Page(browser, server_url)
    page = p.page
    try:
        p.open(path)
        (x, y), color = HINTS["circle"]
        page.fill("#color", color)
        page.mouse.move(*p.point(x - 20, y))
        page.mouse.down()
        page.mouse.move(*p.point(x + 20, y + 10), steps=5)
        page.mouse.up()
        page.click("#tool-dot")
        page.fill("#color", "#ffffff")  # a white hint: invisible without its ring, still a hint
        p.tap(*HINTS["rectangle"][0])
        p.wait_for_preview()

        page.click("#layer-flats")
        assert page.get_attribute("#result-image", "alt").startswith("The flats")
        assert page.inner_text("#result-title") == "Flats"
        assert filled(p.result(), interiors["circle"], color, tolerance=0) >= 0.99, "the flats carry the hint color"
        page.click("#layer-image")

        page.check("#hints-only")
        p.wait_for_preview()
        assert filled(p.result(), interiors["triangle"], "#ffffff", tolerance=8) >= 0.9, "hints only: unhinted stays white"

        name, ora = p.download("#download-ora")
        assert name == "shapes.ora" and zipfile.ZipFile(io.BytesIO(ora)).read("mimetype") == b"image/openraster"
        name, psd = p.download("#download-psd")
        assert name == "shapes.psd" and psd.startswith(b"8BPS")

        # The hints as the CLI's --hints JSON: drawn by the CLI's own code, they are the painted pixels.
        painted = p.canvas_png("#hint-canvas")
        name, text = p.download("#save-hints-json")
        assert name == "shapes.hints.json"
        layer = draw_hints(parse_hint_json(text, H, W), H, W)
        assert np.array_equal(layer.mask, painted[..., 3] > 0)
        assert np.array_equal(layer.rgb[layer.mask], painted[..., :3][layer.mask])
        page.click("#clear")
        assert p.canvas_png("#hint-canvas")[..., 3].max() == 0
        page.keyboard.press("Control+z")
        assert np.array_equal(p.canvas_png("#hint-canvas"), painted), "undo brings the cleared hints back"
        page.click("#redo")
        assert p.canvas_png("#hint-canvas")[..., 3].max() == 0
        hints_file = tmp_path / "shapes.hints.json"
        hints_file.write_bytes(text)
        page.set_input_files("#hints-input", str(hints_file))
        # What the load did stays in the status bar in front of the preview it starts.
        page.wait_for_function("() => /^Loaded .*Colorized/.test(document.querySelector('#status').textContent)")
        assert np.array_equal(p.canvas_png("#hint-canvas"), painted), "loading the JSON gives the same hints back"
        page.set_input_files("#hints-input", files=[{"name": "bad.json", "mimeType": "application/json",
                                                     "buffer": json.dumps([{"x": 1, "y": 2}]).encode()}])
        page.wait_for_selector("#error:not([hidden])")
        assert "bad.json: hint #0: missing color" in page.inner_text("#error-text")

        # Recent colors survive a reload: here the loaded file's colors, the most used first.
        page.reload()
        page.wait_for_function("() => document.querySelector('#model-name').textContent === 'demo'")
        recent = page.eval_on_selector_all("#palette button.recent", "bs => bs.map(b => b.dataset.color)")
        assert recent[:2] == [color, "#ffffff"]
        assert not p.problems, p.problems
    finally:
        p.close()


def test_keyboard_labels_and_the_model_card(browser, server_url):
    p = Page(browser, server_url)
    page = p.page
    try:
        page.focus("#tool-brush")
        page.keyboard.press("ArrowRight")
        assert page.get_attribute("#tool-eraser", "aria-checked") == "true"
        assert page.evaluate("() => document.activeElement.id") == "tool-eraser"
        page.keyboard.press("ArrowLeft")
        page.keyboard.press("ArrowLeft")
        assert page.get_attribute("#tool-dot", "aria-checked") == "true"
        page.keyboard.press("ArrowLeft")
        assert page.get_attribute("#tool-picker", "aria-checked") == "true", "arrows wrap around"
        page.focus("#layer-image")
        page.keyboard.press("End")
        assert page.get_attribute("#layer-line", "aria-checked") == "true"
        assert page.evaluate("() => [...document.querySelectorAll('[role=radio]')].filter(r => r.tabIndex === 0)"
                             ".map(r => r.id)") == ["pane-hints", "tool-picker", "view-side", "layer-line"], \
        "one tab stop a group"
        for canvas in ("#base-canvas", "#hint-canvas"):
            assert page.get_attribute(canvas, "aria-label")
        unlabelled = page.evaluate("""() => [...document.querySelectorAll('button, input, select')].filter((e) =>
            e.type !== 'file' && !(e.getAttribute('aria-label') || e.labels?.length || e.textContent.trim()))
            .map((e) => e.id || e.outerHTML.slice(0, 60))""")
        assert not unlabelled, unlabelled

        page.click("#model-button")
        card = page.locator("#model-card")
        assert "model card" in card.locator("h3").first.inner_text()
        assert card.locator("table").count() >= 2 and card.locator("li").count() >= 5
        assert "|---" not in card.inner_text() and "**" not in card.inner_text()
        page.keyboard.press("Escape")
        assert not p.problems, p.problems
    finally:
        p.close()


HOSTILE_CARD = """# Card <script>window.pwned = 1</script>
<img src=x onerror="window.pwned = 2"> text with **bold** and *em*
[a script](javascript:window.pwned=3) [data](data:text/html,<b>x</b>) [relative](docs/x.png) [ok](https://example.com/a?b=1)
<https://example.org/auto> <javascript:alert(1)>

| a | b <iframe src="https://example.com"></iframe> |
|---|---|
| `<b>code</b>` | [x](http://example.net) |

```html
<script>window.pwned = 4</script>
```
- item <svg onload="window.pwned = 5">
  - nested
"""

MARKDOWN_DOM = """async (text) => {
  const { renderMarkdown } = await import('./static/markdown.js');
  const box = document.createElement('div');
  box.append(renderMarkdown(text));
  document.body.append(box);
  await new Promise((r) => setTimeout(r, 50));
  const tags = new Set([...box.querySelectorAll('*')].map((e) => e.tagName.toLowerCase()));
  const attrs = [...box.querySelectorAll('*')].flatMap((e) => [...e.attributes].map((a) => a.name));
  return { tags: [...tags].sort(), attrs: [...new Set(attrs)].sort(), pwned: window.pwned ?? null,
           hrefs: [...box.querySelectorAll('a')].map((a) => a.href), text: box.textContent };
}"""


def test_the_card_renderer_builds_only_safe_nodes(browser, server_url):
    p = Page(browser, server_url)
    try:
        seen = p.page.evaluate(MARKDOWN_DOM, HOSTILE_CARD)
        assert seen["pwned"] is None
        allowed = {"h1", "p", "strong", "em", "a", "div", "table", "thead", "tbody", "tr", "th", "td", "code", "pre",
                   "ul", "li"}
        assert set(seen["tags"]) <= allowed, seen["tags"]
        assert set(seen["attrs"]) <= {"href", "target", "rel", "class", "data-lang"}, seen["attrs"]
        assert seen["hrefs"] == ["https://example.com/a?b=1", "https://example.org/auto", "http://example.net/"]
        assert "<script>window.pwned = 1</script>" in seen["text"], "markup in a card is shown as text"
        assert not p.problems, p.problems
    finally:
        p.close()


def test_a_failed_request_marks_the_result_out_of_date_until_a_retry(browser, server_url, drawing):
    path, _ = drawing
    p = Page(browser, server_url)
    page = p.page
    try:
        p.open(path)
        page.route("**/api/colorize", lambda route: route.abort("connectionrefused"))
        page.click("#tool-dot")
        p.tap(*HINTS["circle"][0])
        page.wait_for_function("() => document.body.dataset.stale === '1'", timeout=10000)
        status = page.inner_text("#status")
        assert status.startswith("Not colorized") and "out of date" in status, status
        assert page.is_visible("#error-retry") and page.is_visible("[data-testid=stale-note]")
        assert page.is_visible("[data-testid=stale-tag]")
        page.unroute("**/api/colorize")
        page.click("#stale-retry")
        p.wait_for_preview()
        page.wait_for_function("() => document.body.dataset.stale === '0'")
        assert page.inner_text("#status").startswith("Colorized")
        assert page.is_hidden("#error") and not page.is_visible("[data-testid=stale-note]")

        page.route("**/api/colorize", lambda route: route.fulfill(
            status=422, content_type="application/json", body='{"detail": "hints: hint #0: missing color"}'))
        p.tap(*HINTS["rectangle"][0])
        page.wait_for_selector("#error:not([hidden])", timeout=10000)
        assert "hint #0: missing color" in page.inner_text("#error-text")
        assert page.inner_text("#status").startswith("Not colorized: The last request failed (HTTP 422)")
    finally:
        p.close()


def test_the_cli_the_api_and_the_page_give_the_same_image_by_default(browser, server_url, drawing, tmp_path):
    path, _ = drawing
    p = Page(browser, server_url)
    try:
        p.open(path)
        p.page.click("#tool-dot")
        for (x, y), color in HINTS.values():
            p.page.fill("#color", color)
            p.tap(x, y)
        p.wait_for_preview()
        _, data = p.download("#download-result")
        Image.fromarray(p.canvas_png("#hint-canvas"), "RGBA").save(tmp_path / "hints.png")
    finally:
        p.close()
    from irodori.cli import main

    # fp32, as this test's server runs (`irodori serve` and `colorize` both default to auto precision)
    assert main(["colorize", str(path), "--hints", str(tmp_path / "hints.png"), "-o", str(tmp_path / "cli.png"),
                 "--precision", "fp32"]) == 0
    page_image = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), np.int16)
    cli_image = np.asarray(Image.open(tmp_path / "cli.png").convert("RGB"), np.int16)
    api_image = np.asarray(Colorizer.from_pretrained("demo")(str(path), tmp_path / "hints.png").image, np.int16)
    assert np.abs(page_image - cli_image).max() <= 1 and np.abs(api_image - cli_image).max() <= 1


@pytest.mark.parametrize("size", list(SIZES))
def test_a_hint_on_a_line_is_ringed_with_its_reason_and_the_sliders_reach_the_server(browser, server_url, drawing,
                                                                                      size):
    path, _ = drawing
    p = Page(browser, server_url, size)
    page = p.page
    try:
        p.open(path)
        if size == "phone":
            assert page.is_hidden("#result-pane") and page.is_visible("#pane-switch, [data-testid=pane-switch]")
            assert page.locator("#hint-canvas").bounding_box()["width"] >= 300, "one pane takes the screen"
        page.click("#tool-dot")
        p.tap(*HINTS["circle"][0])
        p.tap(26, 108)  # on the circle's outline: it claims nothing
        p.wait_for_preview()
        assert "1 claimed nothing" in page.inner_text("#hint-count")
        assert "too close to a line" in page.inner_text("#claim-note")
        ring = p.canvas_png("#claims-canvas")
        assert ring[..., 3][80:136, 0:56].any() and not ring[..., 3][200:, 200:].any(), "a ring around that hint only"
        if size == "desktop":
            page.mouse.move(*p.point(*HINTS["circle"][0]))
            page.wait_for_function("() => document.querySelector('#claim-note').textContent.includes('outlined')")
            outline = p.canvas_png("#claims-canvas")[..., 3] > 0
            assert outline[40:178, 22:162].sum() > outline.sum() * 0.9 > 100, "the circle's region is outlined"
        with page.expect_response("**/api/colorize"):  # the shading change's own preview, so the next one is ours
            p.in_tools(lambda: page.fill("#shading", "0.5") or page.dispatch_event("#shading", "change"))
        with page.expect_response("**/api/colorize") as response:
            p.in_tools(lambda: page.fill("#max-gap", "6") or page.dispatch_event("#max-gap", "change"))
        answer = response.value.json()
        assert (answer["shading_strength"], answer["max_gap"]) == (0.5, 6), "the sliders' values were sent"
        assert "ora" not in answer and "flats" not in answer, "a preview does not ask for the layer files"
        p.wait_for_preview()
        if size == "phone":
            page.click("#pane-result")
            assert page.is_visible("#result-image") and page.is_hidden("#hint-canvas")
            page.click("#pane-hints")
            assert page.is_visible("#hint-canvas")
        assert not p.problems, p.problems
    finally:
        p.close()


SAMPLES = Path(__file__).resolve().parents[1] / "src" / "irodori" / "assets" / "samples"


@pytest.mark.slow
@pytest.mark.parametrize("size", list(SIZES))
def test_readme_screenshots(browser, server_url, size, tmp_path):
    """IRODORI_SCREENSHOTS=docs pytest -m slow -k screenshots tests/test_web_e2e.py: the README's pictures of
    the page, the sample monkey at 3× (768 px, so Auto works at 768 px) with its hint file loaded."""
    out = os.environ.get("IRODORI_SCREENSHOTS")
    if not out:
        pytest.skip("set IRODORI_SCREENSHOTS to a folder to write the README's screenshots")
    lineart = tmp_path / "monkey.png"
    Image.open(SAMPLES / "monkey.png").convert("L").resize((768, 768), Image.LANCZOS).save(lineart)
    hints = json.loads((SAMPLES / "monkey.hints.json").read_text())
    hints_file = tmp_path / "monkey.hints.json"
    hints_file.write_text(json.dumps([{**h, "x": h["x"] * 3 + 1, "y": h["y"] * 3 + 1, "size": h["size"] * 3}
                                      for h in hints]))
    p = Page(browser, server_url, size)
    try:
        p.open(lineart)
        p.page.set_input_files("#hints-input", str(hints_file))
        p.page.wait_for_function("() => document.querySelector('#status').textContent.startsWith('Loaded')")
        p.page.click("#tool-dot")
        p.page.fill("#color", "#ffffff")
        p.tap(300, 45)  # the crown of the hat: white, shown on white paper by its ring
        p.wait_for_preview()
        p.page.wait_for_timeout(500)  # the busy veil fades out
        p.page.screenshot(path=str(Path(out) / f"web-app-{size}.png"))
        assert not p.problems, p.problems
    finally:
        p.close()
