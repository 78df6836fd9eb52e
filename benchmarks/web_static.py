"""The page without a server, timed: the exported site in headless Chromium beside ONNX Runtime (native) and
PyTorch, in one run on one machine (issue 26's targets are ratios of these).

    .venv/bin/python benchmarks/web_static.py [--site DIR] [--size 512] [--n 5] [--one-thread]

Without ``--site`` it exports one (``irodori export-web``) into a temporary folder. It prints:

* the site's size (all files, model included);
* first load to first result: a fresh browser profile opens the page (served by ``python -m http.server`` on
  loopback, service-worker reload included), opens a SIZE² drawing with two hints and waits for the result;
* the browser's colorize of a SIZE² drawing (a new File each time, so regions are found again): the whole call
  and its parts as local.js times them (the regions are found while the model runs in ONNX Runtime's proxy
  worker), median of N, with ONNX Runtime's thread count;
* native ONNX Runtime running the same model file, model alone, at the browser's thread count;
* PyTorch: the bundled model alone, and the whole pipeline (model, regions, composition);
* ``/proc/loadavg`` before and after: on a shared machine, read the ratios rather than the absolute times.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from test_web_static import serve  # noqa: E402  (python -m http.server on a free loopback port)

from irodori.colorize.hint_input import hint_layer  # noqa: E402
from irodori.colorize.onnx_backend import OnnxGenerator  # noqa: E402
from irodori.perf import time_calls  # noqa: E402
from irodori.colorize.pipeline import Colorizer, lineart_to_unit  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
TIMED = """async ([b64, hintsB64, size, n]) => {
  const { colorize, threadCount } = await import('./static/local.js');
  const bytes = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const hints = new Blob([bytes(hintsB64)], { type: 'image/png' });
  const rows = [];
  for (let i = 0; i <= n; i++) {  // the first run warms up
    const file = new File([bytes(b64)], `d${i}.png`, { type: 'image/png' });
    const t = performance.now();
    const a = await colorize({ file, hints, resolution: size, flats: 'regions' });
    if (i) rows.push({ ...a.timings, seconds: (performance.now() - t) / 1000 });
  }
  return { rows, threads: threadCount() };
}"""


def drawing(size: int) -> tuple[bytes, bytes, list[dict]]:
    """A SIZE² line art of three closed shapes (PNG), its two hints as an RGBA PNG and as JSON."""
    image = Image.new("L", (size, size), 255)
    d = ImageDraw.Draw(image)
    s = size / 512
    d.ellipse((40 * s, 60 * s, 250 * s, 270 * s), outline=0, width=max(2, round(5 * s)))
    d.rectangle((290 * s, 50 * s, 470 * s, 250 * s), outline=0, width=max(2, round(5 * s)))
    d.polygon([(60 * s, 470 * s), (250 * s, 300 * s), (450 * s, 470 * s)], outline=0, width=max(2, round(5 * s)))
    hints = [{"x": 145 * s, "y": 165 * s, "color": "#e8553f", "size": 9}, {"x": 380 * s, "y": 150 * s,
                                                                           "color": "#3f7fe0", "size": 9}]
    layer = hint_layer(hints, size, size)
    rgba = np.concatenate([layer.rgb, (layer.mask * 255).astype(np.uint8)[..., None]], 2)
    out = []
    for im in (image, Image.fromarray(rgba, "RGBA")):
        buf = io.BytesIO()
        im.save(buf, "PNG")
        out.append(buf.getvalue())
    return out[0], out[1], hints


def browser_times(site: Path, size: int, n: int, one_thread: bool = False) -> dict:
    import base64

    from playwright.sync_api import sync_playwright

    line_png, hints_png, _ = drawing(size)
    proc, url = serve(site)
    try:
        with sync_playwright() as p, tempfile.TemporaryDirectory() as tmp:
            b = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
            page = b.new_page(viewport={"width": 1280, "height": 800})
            path = Path(tmp) / "drawing.png"
            path.write_bytes(line_png)
            t0 = time.perf_counter()
            page.goto(url + ("?threads=1" if one_thread else ""))
            page.wait_for_function("() => document.querySelector('#model-name').textContent !== 'model'")
            with page.expect_file_chooser() as chooser:
                page.click("#open-button")
            chooser.value.set_files(str(path))
            page.wait_for_function("() => document.body.dataset.busy === '0' && document.querySelector("
                                   "'#result-image').dataset.revision === document.querySelector("
                                   "'#hint-canvas').dataset.revision", timeout=120000)
            first = time.perf_counter() - t0
            isolated = page.evaluate("() => crossOriginIsolated")
            timed = page.evaluate(TIMED, [base64.b64encode(line_png).decode(), base64.b64encode(hints_png).decode(),
                                          size, n])
            b.close()
    finally:
        proc.kill()
    med = {k: statistics.median(r[k] for r in timed["rows"]) for k in timed["rows"][0]}
    return {"first_load_s": first, "isolated": isolated, "threads": timed["threads"], **med}


def native_times(site: Path, size: int, n: int, threads: int) -> dict:
    torch.set_num_threads(threads)
    line_png, _, hints = drawing(size)
    line = lineart_to_unit(line_png)
    layer = hint_layer(hints, size, size)
    g = OnnxGenerator(site / "model" / "model.onnx", threads=threads)
    ort_col = Colorizer(g, g.config, {}, "cpu")
    col = Colorizer.from_pretrained("demo")
    ms = lambda fn: statistics.median(time_calls(fn, n, warmup=1)) * 1000  # noqa: E731
    return {"ort_model_ms": ms(lambda: ort_col.model_colors(line, layer, size)),
            "torch_model_ms": ms(lambda: col.model_colors(line, layer, size)),
            "torch_pipeline_ms": ms(lambda: col(line_png, hints, resolution=size))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--site", help="an exported site (default: export one now)")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--n", type=int, default=5)
    ap.add_argument("--one-thread", action="store_true", help="open the page with ?threads=1 (no isolation)")
    args = ap.parse_args()
    load0 = Path("/proc/loadavg").read_text().strip()
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(args.site) if args.site else Path(tmp) / "site"
        if not args.site:
            from irodori.web.site import export_site

            export_site(site)
        size_mb = sum(p.stat().st_size for p in site.rglob("*") if p.is_file()) / 1e6
        web = browser_times(site, args.size, args.n, args.one_thread)
        nat = native_times(site, args.size, args.n, web["threads"])
    total_ms = web["seconds"] * 1000
    print(f"site: {size_mb:.1f} MB; first load to first result {web['first_load_s']:.2f} s (loopback, "
          f"cross-origin isolated: {web['isolated']}, {web['threads']} ONNX Runtime threads)")
    print(f"{args.size}x{args.size}, median of {args.n}:")
    print(f"  browser colorize   {total_ms:8.1f} ms  (decode {web['decode']:.1f}, regions {web['regions']:.1f} while "
          f"the model runs in ONNX Runtime's worker, then the wait for the model {web['model']:.1f}, claims and "
          f"composition {web['compose']:.1f}; PNGs after)")
    print(f"  native ORT model   {nat['ort_model_ms']:8.1f} ms  -> browser / native = "
          f"{total_ms / nat['ort_model_ms']:.2f}x (target <= 4x)")
    print(f"  torch model        {nat['torch_model_ms']:8.1f} ms")
    print(f"  torch pipeline     {nat['torch_pipeline_ms']:8.1f} ms  -> browser / torch pipeline = "
          f"{total_ms / nat['torch_pipeline_ms']:.2f}x")
    print(f"loadavg before: {load0}; after: {Path('/proc/loadavg').read_text().strip()}")


if __name__ == "__main__":
    main()
