"""The page without a server, in real headless Chromium (Playwright), served by ``python -m http.server``.

* The cross-check: the same drawings, hints and model colors through Python (irodori.colorize.regions, irodori.colorize.flats) and
  through the browser's port (static/regions.js, static/flats.js) give the same region labels (at least 99.5%
  of pixels) and the same flats, shading and image (within 2/255). It serves the page's static folder itself,
  so it needs no npm.
* The exported site (``irodori export-web``, which fetches ONNX Runtime Web, fflate and ag-psd with npm): two
  hinted regions fill with their hints' colors, no request goes to ``/api``, the ORA and PSD downloads hold the
  layers, and at 390×844 nothing sticks out of the viewport (on a phone with touch and one thread: slow). Skipped,
  saying why, where npm cannot reach its registry.
"""

import base64
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from irodori.data import SampleSpec, draw_shapes, make_sample
from irodori.colorize.claims import claim_regions, hint_report
from irodori.colorize.flats import _recolored_tones, compose
from irodori.colorize.hint_input import HintLayer, hint_layer
from irodori.colorize.pipeline import Colorizer, lineart_to_unit
from irodori.colorize.regions import segment
from irodori.web.site import STATIC_DIR, VENDORED
from test_web_e2e import HINTS, H, W, Page, browser, drawing, filled  # noqa: F401 - fixtures too

SAMPLES = Path(__file__).parents[1] / "src" / "irodori" / "assets" / "samples"


#: The first preview in the browser compiles ONNX Runtime's WASM and loads the model; on a loaded 2-core
#: machine that takes longer than test_web_e2e's 20 s for a server's answer.
PREVIEW_TIMEOUT_MS = 120_000


def wait_for_preview(p: Page) -> None:
    p.page.wait_for_function(
        "() => document.body.dataset.busy === '0' && document.querySelector('#result-image').dataset.revision"
        " === document.querySelector('#hint-canvas').dataset.revision", timeout=PREVIEW_TIMEOUT_MS)


def open_drawing(p: Page, path: Path) -> None:
    with p.page.expect_file_chooser() as chooser:
        p.page.click("#open-button")
    chooser.value.set_files(str(path))
    wait_for_preview(p)


def serve(directory: Path):
    """``python -m http.server`` on a free loopback port: (process, base URL)."""
    proc = subprocess.Popen([sys.executable, "-c", "import http.server, socketserver, sys\n"
                             "h = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=sys.argv[1], **k)\n"
                             "s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), h)\n"
                             "print(s.server_address[1], flush=True)\ns.serve_forever()", str(directory)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def static_url():
    proc, url = serve(STATIC_DIR)
    yield url
    proc.kill()
    proc.wait()


def npm_reachable() -> str | None:
    """None when npm answers for the pinned ONNX Runtime Web, else why not."""
    spec = next(iter(VENDORED))
    try:
        proc = subprocess.run(["npm", "view", spec, "version"], capture_output=True, text=True, timeout=90)
    except (FileNotFoundError, subprocess.TimeoutExpired) as exc:
        return f"npm cannot be run ({exc})"
    return None if proc.returncode == 0 else f"npm cannot reach its registry for {spec}: {proc.stderr.strip()[-200:]}"


@pytest.fixture(scope="module")
def site_url(tmp_path_factory):
    why = npm_reachable()
    if why:
        pytest.skip(f"the exported site vendors npm packages: {why}")
    from irodori.web.site import export_site

    site = tmp_path_factory.mktemp("site")
    with pytest.MonkeyPatch.context() as mp:  # the int8 model's cache: this test's own, like every test's
        mp.setenv("IRODORI_CACHE", str(tmp_path_factory.mktemp("cache")))
        export_site(site)
    proc, url = serve(site)
    yield url
    proc.kill()
    proc.wait()


def test_export_refuses_a_folder_with_files_and_an_unknown_precision_before_fetching_anything(tmp_path):
    from irodori.web.site import ExportError, export_site

    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="not empty"):
        export_site(tmp_path)
    with pytest.raises(ExportError, match="precision must be one of int8, fp32"):
        export_site(tmp_path / "new", precision="fp16")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_the_exported_page_is_the_servers_page_marked_for_the_browser():
    from irodori.web.site import BACKEND_META, page_html

    page, served = page_html(), (STATIC_DIR / "index.html").read_text()
    assert BACKEND_META in page and BACKEND_META not in served
    assert page.replace(f"\n  {BACKEND_META}\n  <script src=\"static/coi.js\"></script>", "") == served


def cross_check_cases(shapes: Path):
    """(name, line H×W, hint rgb, hint mask, options): synthetic XDoG drawings with scribbles, the samples, and
    the shapes drawing with a light and a dark tone of one red in the circle (claimed as flat + tones; the model
    paints it brown, so it is recolored; with ``obeying``, a stand-in model that paints it red keeps its colors),
    and with a white and a black dot in the circle (one grey chromaticity, but black beside white is not a shade:
    not toned)."""
    line = lineart_to_unit(shapes)
    tones = [{"x": 80, "y": 100, "color": "#e8553f", "size": 9}, {"x": 110, "y": 130, "color": "#a03c2c", "size": 9},
             {**dict(zip("xy", HINTS["rectangle"][0])), "color": HINTS["rectangle"][1], "size": 7}]
    layer = hint_layer(tones, *line.shape)
    cases = [("shapes-tones", line, layer.rgb, layer.mask, {"shading": 0.5})]
    cases.append(("shapes-tones-obeyed", line, layer.rgb, layer.mask, {"obeying": True}))
    black_white = hint_layer([{**tones[0], "color": "#ffffff"}, {**tones[1], "color": "#000000"}], *line.shape)
    cases.append(("shapes-black-white", line, black_white.rgb, black_white.mask, {}))
    for i, (size, opts) in enumerate([(256, {}), (320, {"shading": 0.5}), (384, {"maxGap": 8, "mode": "hints-only"})]):
        rng = np.random.default_rng([26, i])
        s = make_sample(draw_shapes(size, rng), rng, SampleSpec(size=size, line_methods={"xdog": 1.0}, scribble_prob=1))
        line = ((s["line"][0].numpy() + 1) / 2).astype(np.float32)
        hint = np.clip((s["hint"].numpy().transpose(1, 2, 0) + 1) / 2, 0, 1)
        cases.append((f"synthetic-{size}", line, (hint * 255 + 0.5).astype(np.uint8), s["mask"][0].numpy() > 0.5, opts))
    for name in ("monkey", "strawberry"):
        line = lineart_to_unit(SAMPLES / f"{name}.png")
        layer = hint_layer((SAMPLES / f"{name}.hints.json").read_text(), *line.shape)
        cases.append((name, line[:, :200], layer.rgb[:, :200], layer.mask[:, :200], {"mode": "model"}))
    return cases


CROSS_CHECK = """async ([lineB64, rgbB64, maskB64, modelB64, w, h, opts]) => {
  const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const { segment } = await import('./regions.js');
  const { claimRegions, hintReport } = await import('./claimrules.js');
  const { compose, composite, rgba8 } = await import('./flats.js');
  const line = new Float32Array(bytes(lineB64).buffer), model = new Float32Array(bytes(modelB64).buffer);
  const regions = segment(line, w, h, { maxGap: opts.maxGap ?? null });
  const claims = claimRegions(regions, bytes(rgbB64), bytes(maskB64));
  const layers = compose(model, line, regions, claims, { mode: opts.mode ?? 'regions', shading: opts.shading ?? 0 });
  const b64 = (a) => { let s = ''; const u = new Uint8Array(a.buffer); for (let i = 0; i < u.length; i += 8192) s += String.fromCharCode(...u.subarray(i, i + 8192)); return btoa(s); };
  return { labels: b64(regions.labels), claimed: Array.from(claims.claimed), toned: Array.from(claims.toned),
           report: hintReport(regions, claims, bytes(maskB64)), image: b64(composite(layers)),
           flats: b64(rgba8(layers.flats)), shading: b64(rgba8(layers.shading)) };
}"""


def test_the_browser_finds_the_same_regions_claims_and_layers_as_python(browser, static_url, drawing):  # noqa: F811
    col = Colorizer.from_pretrained("demo")
    page = browser.new_page()
    page.goto(static_url + "index.html")
    b64 = lambda a: base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()  # noqa: E731
    rgba = lambda s, h, w: np.frombuffer(base64.b64decode(s), np.uint8).reshape(h, w, 4)[..., :3]  # noqa: E731
    to8 = lambda a: (np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)  # noqa: E731
    toned, branches = 0, set()
    try:
        for name, line, rgb, mask, opts in cross_check_cases(drawing[0]):
            h, w = line.shape
            model = col.model_colors(line, HintLayer(rgb, mask)).astype(np.float32)
            if opts.get("obeying"):  # the lighter tone's red, darker towards the bottom
                model = np.linspace(1.0, 0.5, h, dtype=np.float32)[:, None, None] * np.float32([232, 85, 63]) / 255
                model = np.ascontiguousarray(np.broadcast_to(model, (h, w, 3)))
            regions = segment(line, opts.get("maxGap"))
            claims = claim_regions(regions, rgb.astype(np.float32) / 255, mask)
            layers = compose(model, line, regions, claims, opts.get("mode", "regions"), opts.get("shading", 0.0))
            js = page.evaluate(CROSS_CHECK, [b64(line), b64(rgb), b64(mask.astype(np.uint8)), b64(model), w, h, opts])
            labels = np.frombuffer(base64.b64decode(js["labels"]), np.int32).reshape(h, w)
            agree = float((labels == regions.labels).mean())
            assert agree >= 0.995, f"{name}: the browser's regions agree with Python's on {agree:.2%} of pixels"
            assert js["claimed"] == claims.claimed.astype(int).tolist(), f"{name}: other regions claimed"
            assert js["toned"] == claims.toned.astype(int).tolist(), f"{name}: other regions toned"
            toned += int(claims.toned.sum())
            recolored = _recolored_tones(model, regions.labels, regions.count, ~regions.ink, claims)
            branches.add(("recolored" if recolored.any() else "model's own") if claims.toned.any() else None)
            report, count = hint_report(regions, claims, mask)
            assert js["report"] == {"report": report, "hintCount": count}, f"{name}: another hint report"
            for key, want in (("image", layers.image), ("flats", layers.flats), ("shading", layers.shading)):
                diff = int(np.abs(rgba(js[key], h, w).astype(int) - to8(want)).max())
                assert diff <= 2, f"{name}: the browser's {key} is {diff}/255 away from Python's"
            assert regions.count > 1, f"{name}: one region tests nothing"
        assert toned, "no drawing had a region claimed by tones of one hue"
        assert {"recolored", "model's own"} <= branches, f"toned regions were only {branches}"
    finally:
        page.close()


def test_the_exported_site_colorizes_in_the_browser_without_a_server(browser, site_url, drawing):  # noqa: F811
    path, interiors = drawing
    p = Page(browser, site_url)
    page = p.page
    page.set_default_timeout(PREVIEW_TIMEOUT_MS)  # downloads of layer files colorize again, with the layers
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        page.reload()  # the service worker's first visit reloads once; watch every request from here
        page.wait_for_function("() => document.querySelector('#model-name').textContent === 'demo'")
        assert page.evaluate("() => document.body.dataset.backend") == "browser"
        open_drawing(p, path)
        page.click("#tool-dot")
        for (x, y), color in HINTS.values():
            page.fill("#color", color)
            p.tap(x, y)
        wait_for_preview(p)
        assert page.inner_text("#status").startswith("Colorized 384×256 at 512 px"), "Auto: the working size"
        name, data = p.in_tools(lambda: p.download("#download-result"))
        result = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        assert name == "shapes.colored.png" and result.shape == (H, W, 3)
        for shape, (_, color) in HINTS.items():
            share = filled(result, interiors[shape], color)
            assert share >= 0.9, f"{share:.0%} of the {shape}'s interior is {color}"
        _, ora = p.download("#download-ora")
        z = zipfile.ZipFile(io.BytesIO(ora))
        assert z.namelist()[0] == "mimetype" and z.read("mimetype") == b"image/openraster"
        assert z.getinfo("mimetype").compress_type == zipfile.ZIP_STORED
        assert [n.split("-", 1)[1] for n in z.namelist() if n.startswith("data/")] == [
            "hints.png", "lines.png", "shading.png", "flats.png"]
        _, psd_bytes = p.download("#download-psd")
        from psd_tools import PSDImage

        psd = PSDImage.open(io.BytesIO(psd_bytes))
        assert [layer.name for layer in psd] == ["flats", "shading", "lines", "hints"], "bottom to top"
        assert [layer.visible for layer in psd] == [True, True, True, False]
        assert "multiply" in str(list(psd)[1].blend_mode).lower()
        assert not [u for u in requests if "/api" in u], "a request went to a server's API"
        page.set_viewport_size({"width": 390, "height": 844})
        p.size = "phone"
        page.wait_for_function("() => document.querySelector('#stage').getBoundingClientRect().right <= 390",
                               timeout=5000)  # the panes fit again once the resize is observed
        p.assert_fits("the result at 390×844")
        assert page.is_hidden("#error") and not p.problems, p.problems
        assert page.locator("a[href='docs']").count() == 0, "no API docs link without a server"
        page.click("#model-button")
        facts = page.inner_text("#model-facts")
        assert re.search(r"Weights\s+int8 ONNX in this browser \(ONNX Runtime Web\), \d threads?", facts), facts
        page.keyboard.press("Escape")
    finally:
        p.close()


@pytest.mark.slow
def test_the_exported_site_fits_a_phone_and_loads_without_isolation(browser, site_url, drawing):  # noqa: F811
    path, interiors = drawing
    p = Page(browser, site_url + "?threads=1", "phone")
    p.page.set_default_timeout(PREVIEW_TIMEOUT_MS)
    try:
        assert p.page.evaluate("() => crossOriginIsolated") is False, "?threads=1 keeps the page as it is"
        p.assert_fits("the empty page")
        open_drawing(p, path)
        (x, y), color = HINTS["circle"]
        p.page.click("#tool-dot")
        p.page.fill("#color", color)
        p.tap(x, y)
        wait_for_preview(p)
        p.assert_fits("with a result")
        assert filled(p.result(), interiors["circle"], color) >= 0.9, "one thread colorizes too"
        assert not p.problems, p.problems
    finally:
        p.close()


@pytest.mark.slow
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_readme_screenshots_of_the_static_site(browser, site_url, size, tmp_path):  # noqa: F811
    """IRODORI_SCREENSHOTS=docs pytest -m slow -k static_site tests/test_web_static.py: the README's pictures of
    the exported site, the sample monkey at 2× (512 px) with its hint file loaded, colorized in the browser."""
    out = os.environ.get("IRODORI_SCREENSHOTS")
    if not out:
        pytest.skip("set IRODORI_SCREENSHOTS to a folder to write the README's screenshots")
    lineart = tmp_path / "monkey.png"
    Image.open(SAMPLES / "monkey.png").convert("L").resize((512, 512), Image.LANCZOS).save(lineart)
    hints_file = tmp_path / "monkey.hints.json"
    hints_file.write_text(json.dumps([{**h, "x": h["x"] * 2, "y": h["y"] * 2, "size": h["size"] * 2}
                                      for h in json.loads((SAMPLES / "monkey.hints.json").read_text())]))
    p = Page(browser, site_url, size)
    p.page.set_default_timeout(PREVIEW_TIMEOUT_MS)
    try:
        open_drawing(p, lineart)
        p.page.set_input_files("#hints-input", str(hints_file))
        p.page.wait_for_function("() => document.querySelector('#status').textContent.startsWith('Loaded')")
        wait_for_preview(p)
        if size == "phone":
            p.page.click("#pane-result")  # one pane at a time on a phone: show the result
        p.page.wait_for_timeout(500)  # the busy veil fades out
        p.page.screenshot(path=str(Path(out) / f"static-site-{size}.png"))
        assert not p.problems, p.problems
    finally:
        p.close()
