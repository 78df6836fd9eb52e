"""Stroke to preview on the painting page, in headless Chromium (Playwright), against a live server on a loopback
port running the bundled model: the time from a dot's pointer-up to the new result on screen (the page's
debounce, the request, the model, the answer decoded), measured in the page with ``performance.now()``.

    python benchmarks/page_latency.py --size 832 --strokes 12 [--screenshots docs]

Prints each stroke's time, the median and the load average. With ``--screenshots DIR`` it also writes the page at
desktop (1280×800) and phone (390×844) size with the claims feedback showing: a hovered hint's region outlined,
and a dot on a line (it claims nothing) ringed, with its reason.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from irodori.colorize.pipeline import Colorizer
from irodori.web.app import create_app, find_model_card

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "irodori" / "assets" / "samples"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
SIZES = {"desktop": {"viewport": {"width": 1280, "height": 800}},
         "phone": {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}}
WATCH = """() => {
  window.__done = [];
  new MutationObserver(() => window.__done.push(performance.now())).observe(
    document.querySelector('#result-image'), { attributes: true, attributeFilter: ['data-revision'] });
  document.querySelector('#hint-canvas').addEventListener('pointerup', () => { window.__up = performance.now(); });
}"""


def serve():
    import uvicorn

    app = create_app(Colorizer.from_pretrained("demo"), model_name="demo", model_card=find_model_card("demo"))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{sock.getsockname()[1]}/"


def drawing(folder: Path, size: int) -> tuple[Path, Path, float]:
    """The sample monkey at ``size`` px and its hint file scaled to it; returns the paths and the scale."""
    scale = size / Image.open(SAMPLES / "monkey.png").width
    line = folder / "monkey.png"
    Image.open(SAMPLES / "monkey.png").convert("L").resize((size, size), Image.LANCZOS).save(line)
    hints = json.loads((SAMPLES / "monkey.hints.json").read_text())
    path = folder / "monkey.hints.json"
    path.write_text(json.dumps([{**h, "x": round(h["x"] * scale), "y": round(h["y"] * scale),
                                 "size": max(1, round(h["size"] * scale))} for h in hints]))
    return line, path, scale


class Page:
    def __init__(self, browser, url, size):
        self.size = size
        self.context = browser.new_context(**SIZES[size])
        self.page = self.context.new_page()
        self.page.goto(url)
        self.page.wait_for_function("() => document.querySelector('#model-name').textContent === 'demo'")

    def open(self, line: Path, hints: Path):
        self.page.set_input_files("#file-input", str(line))
        self.wait()
        self.page.set_input_files("#hints-input", str(hints))
        self.wait()

    def wait(self):
        self.page.wait_for_function(
            "() => document.body.dataset.busy === '0' && document.querySelector('#result-image').dataset.revision"
            " === document.querySelector('#hint-canvas').dataset.revision", timeout=60000)

    def point(self, x, y):
        box = self.page.locator("#hint-canvas").bounding_box()
        w = self.page.evaluate("() => document.querySelector('#hint-canvas').width")
        return box["x"] + (x + 0.5) * box["width"] / w, box["y"] + (y + 0.5) * box["height"] / w

    def tap(self, x, y):
        if self.size == "phone":
            self.page.touchscreen.tap(*self.point(x, y))
        else:
            self.page.mouse.click(*self.point(x, y))


def measure(page: Page, spots, color="#3f7fe0") -> list[float]:
    page.page.click("#tool-dot")
    page.page.fill("#color", color)
    page.page.evaluate(WATCH)
    times = []
    for x, y in spots:
        page.page.evaluate("() => { window.__done = []; }")
        page.tap(x, y)
        page.wait()
        times.append(page.page.evaluate("() => window.__done.at(-1) - window.__up"))
    return times


def on_a_line(line: Path, x: float, y: float) -> tuple[int, int]:
    """The ink pixel of ``line`` nearest to (x, y)."""
    ys, xs = np.nonzero(np.asarray(Image.open(line).convert("L")) < 100)
    i = int(np.argmin((xs - x) ** 2 + (ys - y) ** 2))
    return int(xs[i]), int(ys[i])


def screenshots(browser, url, line, hints, scale, out: Path):
    spot = on_a_line(line, 150 * scale, 75 * scale)
    for size in SIZES:
        p = Page(browser, url, size)
        p.open(line, hints)
        p.page.click("#tool-dot")
        p.page.fill("#color", "#f0c020")
        p.tap(*spot)  # on the hat's line: claims nothing
        p.wait()
        if size == "desktop":
            p.page.mouse.move(*p.point(round(80 * scale), round(63 * scale)))  # hover the hat's hint
        p.page.wait_for_timeout(500)
        p.page.screenshot(path=str(out / f"web-app-{size}.png"))
        p.context.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=832)
    ap.add_argument("--strokes", type=int, default=12)
    ap.add_argument("--screenshots", type=Path)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    url = serve()
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        line, hints, scale = drawing(Path(tmp), args.size)
        browser = pw.chromium.launch(executable_path=args.chromium, args=ARGS)
        p = Page(browser, url, "desktop")
        p.open(line, hints)
        spots = [(round(args.size * (0.3 + 0.4 * i / max(1, args.strokes - 1))), round(args.size * 0.86))
                 for i in range(args.strokes)]  # along the chin, each dot a new change
        times = measure(p, spots)
        p.context.close()
        print("stroke to preview (ms):", " ".join(f"{t:.0f}" for t in times))
        print(f"median {statistics.median(times):.0f} ms over {len(times)} dots at {args.size} px; "
              f"load average {open('/proc/loadavg').read().split()[:3]}")
        if args.screenshots:
            screenshots(browser, url, line, hints, scale, args.screenshots)
        browser.close()


if __name__ == "__main__":
    main()
