"""DiceBear avatars (human-drawn parts; CC BY 4.0 or CC0 per style) as exact pairs: ``irodori prepare dicebear``.

Source: the npm packages ``@dicebear/core`` and the styles in :data:`STYLES` (``npm pack``), or a folder
holding their ``.tgz`` files or unpacked ``package`` folders (``--source``). ``dicebear_render.mjs`` (run
with ``node``) writes one SVG per head; Python makes the line art (:mod:`~irodori.data.sources.vector`),
rasterizes both, and composes 1-3 heads per image with random scales, rotations, flips and placements
(crops at the borders included) so the data is not all front-facing centred busts. Each style's licence
and designer are read from its package's ``LICENSE`` and recorded per file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from irodori.errors import PrepareError
from irodori.data.sources.common import (
    SourceResult, is_done, on_white, read_manifest, run_jobs, save_png, short_error, split_of,
    unpack, write_attribution, write_manifest)
from irodori.data.sources.vector import (
    MIN_COLOURFUL, colour_svg, colourful_fraction, ink_fraction, line_art_svg, pair_score, render_rgba)
from irodori.npm import npm_pack

NAME = "dicebear"
VERSION = "9.4.3"
#: Notionists is left out: its avatars are black and white, nothing to colour.
STYLES = ("adventurer", "lorelei", "micah", "open-peeps", "toon-head")
#: Lorelei draws white skin and black hair unless told otherwise: give it colours.
SKIN = ("f2d3b1", "ecad80", "d08b5b", "ae5d29", "614335", "ffdbb4", "edb98a", "fd9841")
HAIR = ("2c1b18", "4a312c", "724133", "a55728", "b58143", "d6b370", "e8e1e1", "c93305", "6a4e8a", "3f6db2")
SCRIPT = Path(__file__).with_name("dicebear_render.mjs")
MIN_SCORE = 0.9
#: Images kept by default, and how many candidates per wanted image may be drawn at most.
DEFAULT_COUNT = 2000
MAX_TRIES = 4


# ---------------------------------------------------------------------------
# Packages


def _package_dir(found: Path) -> Path:
    return found / "package" if (found / "package" / "package.json").is_file() else found


def collect_packages(source: str | os.PathLike | None, workdir: Path, styles=STYLES) -> dict[str, Path]:
    """``name -> unpacked package folder`` for ``core`` and every style: from ``source`` (a folder
    of ``dicebear-NAME-*.tgz`` files or ``dicebear-NAME``/``NAME`` package folders) or ``npm pack``."""
    found = {}
    for name in ("core", *styles):
        if source is None:
            fetch_dir = workdir / "npm" / name
            fetch_dir.mkdir(parents=True, exist_ok=True)
            tgz = npm_pack(f"@dicebear/{name}@{VERSION}", fetch_dir, error=PrepareError,
                           instead="pass --source with a folder of the @dicebear packages")
            found[name] = _package_dir(unpack(tgz, fetch_dir))
            continue
        root = Path(source)
        if not root.is_dir():
            raise PrepareError(f"--source {root} must be a folder holding the @dicebear package .tgz files "
                              "or unpacked packages")
        tgzs = sorted(root.glob(f"dicebear-{name}-*.tgz"))
        dirs = [d for d in (root / f"dicebear-{name}", root / name, root / "@dicebear" / name)
                if (_package_dir(d) / "package.json").is_file()]
        if dirs:
            found[name] = _package_dir(dirs[0])
        elif tgzs:
            found[name] = _package_dir(unpack(tgzs[-1], workdir))
        else:
            raise PrepareError(f"--source {root} lacks @dicebear/{name} (dicebear-{name}-*.tgz or a package folder)")
    return found


def style_licence(package: Path) -> dict[str, str]:
    """``{"licence", "designer", "source"}`` of a style's design, read from its ``LICENSE`` file."""
    try:
        text = (package / "LICENSE").read_text(encoding="utf-8")
    except OSError:
        raise PrepareError(f"{package} has no LICENSE file: cannot tell the design's licence") from None
    design = text.split("# Code")[0]
    fields = {k.lower(): v.strip() for k, v in re.findall(r"^(Source|Designer|License):\s*(.+)$", design, re.M)}
    if "license" not in fields:
        raise PrepareError(f"{package / 'LICENSE'} names no design licence")
    return {"licence": fields["license"], "designer": fields.get("designer", "?"), "source": fields.get("source", "?")}


def node_modules(packages: dict[str, Path], workdir: Path) -> Path:
    """A folder whose ``node_modules/@dicebear/NAME`` are the packages (styles import ``@dicebear/core``)."""
    base = workdir / "modules"
    for name, pkg in packages.items():
        target = base / "node_modules" / "@dicebear" / name
        if not target.exists():
            shutil.copytree(pkg, target)
    return base


# ---------------------------------------------------------------------------
# Planning and composing


def plan_image(index: int, styles=STYLES, seed: int = 0) -> list[dict]:
    """The heads of image ``index``: style, avatar seed, flip, scale (of the canvas), rotation (degrees)
    and centre (fractions of the canvas, may lie near or past the border: crops)."""
    rng = np.random.default_rng([seed, index])
    k = int(rng.choice([1, 2, 3], p=[0.5, 0.3, 0.2]))
    heads = []
    for j in range(k):
        big = k == 1
        heads.append({
            "style": str(styles[int(rng.integers(len(styles)))]),
            "seed": f"irodori-{seed}-{index}-{j}",
            "flip": bool(rng.random() < 0.5),
            "scale": float(rng.uniform(0.8, 1.6) if big else rng.uniform(0.45, 0.9)),
            "rotate": float(rng.normal(0, 12)),
            "cx": float(rng.uniform(0.3, 0.7) if big else rng.uniform(0.1, 0.9)),
            "cy": float(rng.uniform(0.3, 0.7) if big else rng.uniform(0.1, 0.9)),
            "options": {"skinColor": [str(rng.choice(SKIN))], "hairColor": [str(rng.choice(HAIR))]},
        })
        if heads[-1]["style"] != "lorelei":
            heads[-1]["options"] = {}
    return heads


def _transform(rgba: np.ndarray, head: dict) -> Image.Image:
    return Image.fromarray(rgba, "RGBA").rotate(head["rotate"], resample=Image.BICUBIC, expand=True)


def compose(heads: list[dict], layers: list[tuple[np.ndarray, np.ndarray]], size: int) -> tuple[np.ndarray, np.ndarray]:
    """Paste every head's colour and line RGBA (same transform) onto white canvases; returns
    ``(color H×W×3, line H×W)``."""
    color = Image.new("RGBA", (size, size), (255, 255, 255, 255))
    line = Image.new("RGBA", (size, size), (255, 255, 255, 255))
    for head, (c, l) in zip(heads, layers):
        ci, li = _transform(c, head), _transform(l, head)
        x = round(head["cx"] * size - ci.width / 2)
        y = round(head["cy"] * size - ci.height / 2)
        _paste(color, ci, x, y)
        _paste(line, li, x, y)
    return on_white(np.asarray(color)), on_white(np.asarray(line)).min(axis=2)


def _paste(canvas: Image.Image, im: Image.Image, x: int, y: int) -> None:
    """Alpha-composite ``im`` with its top-left at ``(x, y)``, clipped to the canvas."""
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(canvas.width, x + im.width), min(canvas.height, y + im.height)
    if x1 > x0 and y1 > y0:
        canvas.alpha_composite(im.crop((x0 - x, y0 - y, x1 - x, y1 - y)), (x0, y0))


def render_image(job: tuple[str, list[dict], str, str, int]) -> tuple[str, str, float]:
    """Rasterize and compose one image from its heads' SVGs; writes it when the pair scores
    at least :data:`MIN_SCORE`. Returns ``(name, status, score)``."""
    name, heads, svg_dir, out, size = job
    try:
        layers = []
        for j, head in enumerate(heads):
            text = (Path(svg_dir) / f"{name}-{j}.svg").read_text(encoding="utf-8")
            side = max(8, round(head["scale"] * size))
            layers.append((render_rgba(colour_svg(text), width=side),
                           render_rgba(line_art_svg(text)[0], width=side)))
        color, line = compose(heads, layers, size)
    except Exception as exc:  # noqa: BLE001 - node output, XML and resvg fail in many ways
        return name, f"error: {short_error(exc)}", 0.0
    score = pair_score(color, line)
    if score < MIN_SCORE or ink_fraction(line) < 0.005 or colourful_fraction(color) < MIN_COLOURFUL:
        return name, "rejected", score
    save_png(color, Path(out) / "color" / f"{name}.png")
    save_png(line, Path(out) / "black" / f"{name}.png")
    return name, "kept", score


def run_node(modules: Path, svg_dir: Path, jobs: list[dict]) -> None:
    spec = svg_dir / "jobs.json"
    spec.write_text(json.dumps({"modules": str(modules), "out": str(svg_dir), "jobs": jobs}))
    try:
        proc = subprocess.run(["node", str(SCRIPT), str(spec)], capture_output=True, text=True, timeout=1800)
    except FileNotFoundError:
        raise PrepareError("node not found: DiceBear avatars are drawn by Node.js (v18 or later)") from None
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        raise PrepareError(f"node {SCRIPT.name} failed (exit {proc.returncode}): {tail}")


def _render_batch(names: list[str], plans: dict, modules: Path, svg_dir: Path, out: Path, size: int,
                  workers: int, progress: bool) -> dict[str, str]:
    """Draw (node) and compose (Python) the images ``names``; returns ``name -> reason`` of the rejected."""
    keys = ("style", "seed", "flip", "options")
    run_node(modules, svg_dir, [{**{k: h[k] for k in keys}, "name": f"{n}-{j}"}
                                for n in names for j, h in enumerate(plans[n])])
    rejected = {}
    jobs = [(n, plans[n], str(svg_dir), str(out), size) for n in names]
    for n, status, score in run_jobs(render_image, jobs, workers, NAME, progress):
        if status != "kept":
            rejected[n] = status if status.startswith("error") else f"score {score:.2f}"
    return rejected


def prepare_dicebear(out: str | os.PathLike, size: int = 256, source: str | os.PathLike | None = None, *,
                     limit: int | None = None, workers: int = 1, progress: bool = True, seed: int = 0,
                     batch: int = 500) -> SourceResult:
    """Build ``out`` (the ``dicebear`` folder of the corpus) until it holds ``limit`` kept images (default
    :data:`DEFAULT_COUNT`), drawing candidates ``db00000``, ``db00001``, ... in whole batches (at most
    :data:`MAX_TRIES` times ``limit``); the first ``limit`` kept candidates make the manifest.
    Re-running skips finished and already rejected candidates."""
    start = time.perf_counter()
    out = Path(out)
    count = limit or DEFAULT_COUNT
    old = read_manifest(out) or {}
    rejected = dict(old.get("rejected", {}))
    plans: dict[str, list[dict]] = {}
    written = skipped = 0
    with tempfile.TemporaryDirectory(prefix="irodori-dicebear-") as tmp:
        tmp = Path(tmp)
        packages = collect_packages(source, tmp)
        licences = {s: style_licence(packages[s]) for s in STYLES}
        modules = node_modules(packages, tmp)
        kept = 0
        while kept < count and len(plans) < MAX_TRIES * count:
            first = len(plans)
            names = [f"db{i:05d}" for i in range(first, first + min(batch, MAX_TRIES * count - first))]
            plans.update({n: plan_image(int(n[2:]), seed=seed) for n in names})
            done = [n for n in names if n not in rejected and is_done(out, n, pair=True)]
            todo = [n for n in names if n not in rejected and n not in done]
            skipped += len(done)
            svg_dir = tmp / f"svg{first}"
            svg_dir.mkdir()
            if todo:
                new_rejects = _render_batch(todo, plans, modules, svg_dir, out, size, workers, progress)
                rejected.update(new_rejects)
                written += len(todo) - len(new_rejects)
            kept = sum(1 for n in plans if n not in rejected and is_done(out, n, pair=True))
        rejected = {k: v for k, v in rejected.items() if k in plans}
    passed = [n for n in plans if n not in rejected and is_done(out, n, pair=True)]
    kept = passed[:count]
    files = {}
    for n in kept:
        styles = sorted({h["style"] for h in plans[n]})
        files[n] = {"split": split_of(n), "group": n, "origin": "; ".join(f"@dicebear/{s}@{VERSION}" for s in styles),
                    "licence": " + ".join(sorted({licences[s]["licence"] for s in styles})),
                    "attribution": "; ".join(f"{s} by {licences[s]['designer']} ({licences[s]['licence']}, "
                                             f"{licences[s]['source']})" for s in styles),
                    "heads": plans[n]}
    manifest = write_manifest(out, f"npm @dicebear/* {VERSION}", "CC BY 4.0 / CC0 1.0 per style (see files)",
                              files, size=size, kind="pairs", styles=licences, considered=len(passed) + len(rejected),
                              passed=len(passed), pass_rate=round(len(passed) / max(1, len(passed) + len(rejected)), 3),
                              rejected=dict(sorted(rejected.items())))
    lines = "\n".join(f"- {s}: design by {v['designer']}, {v['source']}, licence {v['licence']} "
                       f"(from `@dicebear/{s}` {VERSION} `LICENSE`)" for s, v in licences.items())
    write_attribution(out, "DiceBear avatars", f"""
Images here are compositions of avatars drawn with DiceBear {VERSION} (https://www.dicebear.com, code MIT,
Florian Körner) from these human-drawn designs, rasterized at {size} px by `irodori prepare dicebear`, each
with a line-art version derived from its own dark outline shapes. Remixed (scaled, rotated, cropped,
combined); every file's styles are listed in `manifest.json`.

{lines}
""")
    return SourceResult(NAME, manifest, written=written, skipped=skipped, rejected=len(rejected),
                        seconds=time.perf_counter() - start)
