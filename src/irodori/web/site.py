"""``irodori export-web DIR``: the painting page as a static site that colorizes in the browser.

The site is the page ``irodori serve`` serves (``static/``), told by a ``<meta name="irodori-backend"
content="browser">`` tag to colorize locally (``static/backend.js`` picks ``local.js`` instead of
``server.js``), plus:

* ``model/model.onnx``: the generator (int8 by default: the only precision that keeps the site within 25 MB;
  README "The page without a server") and ``model/model.json``, the answer ``/api/model`` and
  ``/api/health``'s limits would give;
* ``vendor/``: ONNX Runtime Web's WASM build, ``fflate`` (the ORA zip) and ``ag-psd`` (PSD layers), taken
  at pinned versions from the npm registry with ``npm pack`` at export time, each with its licence;
* ``coi-sw.js`` and ``_headers``: cross-origin isolation (``SharedArrayBuffer``, so threaded WASM) on any
  host, by a service worker that adds the two headers to the site's own responses; hosts that read a
  ``_headers`` file send them directly. Without isolation the page runs ONNX Runtime on one thread.

Nothing fetched is kept in the repository: the site is made by this module at export time.
"""

from __future__ import annotations

import json
import re
import shutil
import tarfile
import tempfile
from pathlib import Path

from irodori.colorize.claims import REASONS
from irodori.colorize.model_files import model_files
from irodori.colorize.onnx_backend import export_onnx, model_digest
from irodori.colorize.pipeline import Colorizer
from irodori.errors import IrodoriError
from irodori.npm import npm_pack
from irodori.onnx_int8 import quantize_onnx
from irodori.weights import cache_dir

#: npm packages the site vendors: spec -> {file in the package: path under the site's vendor/<name>/}.
VENDORED = {
    "onnxruntime-web@1.22.0": {"dist/ort.wasm.min.mjs": "ort.wasm.min.mjs",
                               "dist/ort-wasm-simd-threaded.mjs": "ort-wasm-simd-threaded.mjs",
                               "dist/ort-wasm-simd-threaded.wasm": "ort-wasm-simd-threaded.wasm"},
    "fflate@0.8.2": {"esm/browser.js": "fflate.js", "LICENSE": "LICENSE"},
    "ag-psd@31.0.2": {"dist/bundle.js": "ag-psd.js", "LICENSE": "LICENSE"},
}
#: Precisions the model may be exported in, the default first.
PRECISIONS = ("int8", "fp32")
#: What the page may ask of the browser: images up to 4 MP (about 0.5 GB of tab memory at 1024 px working
#: size), a working size of at most 1024 px.
SITE_LIMITS = {"max_upload_bytes": 20 * 1024 * 1024, "max_pixels": 4_000_000, "max_resolution": 1024}
BACKEND_META = '<meta name="irodori-backend" content="browser">'
STATIC_DIR = Path(__file__).parent / "static"
_MIT = """Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated
documentation files (the "Software"), to deal in the Software without restriction, including without limitation the
rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the Software, and to permit
persons to whom the Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial portions of the
Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE
WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR
COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"""


class ExportError(IrodoriError):
    """The site could not be made (npm unreachable, a package without the expected files, ...)."""


def _unpack(tgz: Path, dest: Path) -> Path:
    with tarfile.open(tgz) as tar:
        tar.extractall(dest, filter="data")
    return dest / "package"


def vendor_packages(site: Path, workdir: Path) -> list[str]:
    """``npm pack`` each of :data:`VENDORED` into ``workdir`` and copy its files and licence under
    ``site/vendor/<name>/``; returns the specs."""
    for spec, files in VENDORED.items():
        name = spec.rsplit("@", 1)[0]
        fetch = workdir / name
        fetch.mkdir(parents=True)
        pkg = _unpack(npm_pack(spec, fetch, instead="export on a machine that reaches the npm registry",
                               error=ExportError), fetch)
        dest = site / "vendor" / name
        dest.mkdir(parents=True, exist_ok=True)
        for src, rel in files.items():
            if not (pkg / src).is_file():
                raise ExportError(f"{spec} has no {src}: the pinned version is not the one this export expects")
            shutil.copyfile(pkg / src, dest / rel)
        if "LICENSE" not in files.values():  # onnxruntime-web ships its licence only in its files' headers
            meta = json.loads((pkg / "package.json").read_text(encoding="utf-8"))
            (dest / "LICENSE").write_text(f"{spec}: {meta.get('license')} License\n\nCopyright (c) Microsoft "
                                          f"Corporation. All rights reserved.\n\n{_MIT}", encoding="utf-8")
    return list(VENDORED)


def web_model(colorizer, precision: str, out: Path) -> Path:
    """The generator as ONNX for the browser at ``precision``. int8 (:mod:`irodori.onnx_int8`, seeded, so the
    same weights always give the same file) is quantized once per model and kept in the cache dir."""
    if precision not in PRECISIONS:
        raise ExportError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    metadata = {"source": "irodori export-web"}
    if precision == "fp32":
        return export_onnx(colorizer.generator, colorizer.config, out, metadata=metadata)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", colorizer.config.name) or "model"
    cached = cache_dir() / "onnx" / f"{name}-{model_digest(colorizer.generator, colorizer.config)[:20]}-web-int8.onnx"
    if not cached.is_file():
        cached.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            fp32 = export_onnx(colorizer.generator, colorizer.config, Path(tmp) / "fp32.onnx", metadata=metadata)
            quantize_onnx(fp32, cached)
    shutil.copyfile(cached, out)
    return out


def page_html() -> str:
    """``index.html`` told to colorize in the browser, with the isolation helper before the page's script."""
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    anchor = '<meta charset="utf-8">'
    if anchor not in html:
        raise ExportError(f"static/index.html has no {anchor}: cannot mark it as the browser page")
    return html.replace(anchor, f'{anchor}\n  {BACKEND_META}\n  <script src="static/coi.js"></script>', 1)


def model_info(colorizer, model: str, precision: str) -> dict:
    """What the page reads instead of ``/api/model`` and ``/api/health``: {model, limits, reasons} (reasons: why
    a hint claimed nothing, in words, by code: :data:`irodori.colorize.claims.REASONS`)."""
    from irodori.web.app import _card, find_model_card  # optional: the web extra (fastapi), needed only here

    card = _card(colorizer, model_files(model).name, find_model_card(model))
    card["meta"] = {**card["meta"], "dtype": f"{precision} ONNX in this browser (ONNX Runtime Web)",
                    "precision": precision, "multiple": int(getattr(colorizer.generator, "multiple", 16))}
    return {"model": card, "limits": SITE_LIMITS, "reasons": REASONS}


def export_site(out: str | Path, model: str = "demo", precision: str = PRECISIONS[0]) -> dict:
    """Write the static site into ``out`` (created; must be empty if it exists). Returns a summary:
    {files, bytes, packages, precision}."""
    out = Path(out)
    if precision not in PRECISIONS:
        raise ExportError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if out.exists() and any(out.iterdir()):
        raise ExportError(f"{out} is not empty: export into a new or empty directory")
    colorizer = Colorizer.from_pretrained(model)
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        shutil.copytree(STATIC_DIR, site / "static", ignore=shutil.ignore_patterns("index.html"))
        (site / "index.html").write_text(page_html(), encoding="utf-8")
        for name in ("coi-sw.js", "_headers"):  # the worker's scope is the folder it is served from
            shutil.move(site / "static" / "site" / name, site / name)
        shutil.rmtree(site / "static" / "site")
        packages = vendor_packages(site, Path(tmp) / "npm")
        (site / "model").mkdir()
        web_model(colorizer, precision, site / "model" / "model.onnx")
        (site / "model" / "model.json").write_text(json.dumps(model_info(colorizer, model, precision), indent=1),
                                                   encoding="utf-8")
        out.mkdir(parents=True, exist_ok=True)
        for item in site.iterdir():
            shutil.move(str(item), out / item.name)
    files = [p for p in out.rglob("*") if p.is_file()]
    return {"files": len(files), "bytes": sum(p.stat().st_size for p in files), "packages": packages,
            "precision": precision}
