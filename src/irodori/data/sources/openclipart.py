"""OpenClipart (public domain) illustrations as exact line art / colour pairs: ``irodori prepare openclipart``.

Source: the Debian package ``openclipart-svg`` (``apt-get download``), its ``.deb``, or an unpacked copy
(``usr/share/openclipart/svg/FOLDER/*.svg``). Only the illustration folders in :data:`FOLDERS` are used
(no icons, buttons, logos, signs, shapes or computer symbols).

Each SVG is rendered twice at ``size`` px (long side): as drawn, and as line art (dark outline shapes
black, every other paint white, see :mod:`irodori.data.sources.vector`). A pair is kept when its ink
covers between :data:`MIN_INK` and :data:`MAX_INK` of the canvas and at least :data:`MIN_SCORE` of
the strong colour edges lie within 2 px of ink (:func:`~irodori.data.sources.vector.pair_score`).
Group = folder + file stem without a trailing number (``donna_01``, ``donna_02`` share a split).
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path

from irodori.errors import PrepareError
from irodori.data.sources.common import (
    SourceResult, fetch_deb, find_one, is_done, on_white, pad_square, read_manifest,
    resolve_package, run_jobs, save_png, short_error, split_of, write_attribution, write_manifest)
from irodori.data.sources.vector import (
    MIN_COLOURFUL, colour_svg, colourful_fraction, ink_fraction, line_art_svg, pair_score, render_pair_cropped)

NAME = "openclipart"
PACKAGE = "openclipart-svg"
SVG_DIR = "usr/share/openclipart/svg"
FOLDERS = ("animals", "buildings", "containers", "decorations", "education", "food", "people", "plants",
           "recreation", "science", "tools", "transportation")
LICENCE = "public domain"
ATTRIBUTION = ("Open Clip Art Library (https://openclipart.org), Debian package openclipart-svg: "
               "public-domain dedication by each artist")
MIN_SCORE = 0.9
MIN_INK = 0.01
MAX_INK = 0.4


def svg_root(package: Path) -> Path:
    return find_one(package, SVG_DIR, "an openclipart-svg package")


def group_key(folder: str, stem: str) -> str:
    """``folder/stem`` with a trailing number (and its separator) removed, lower-cased."""
    base = re.sub(r"[-_ ]*\d+$", "", stem.lower()) or stem.lower()
    return f"{folder}/{base}"


def list_drawings(root: Path, folders=FOLDERS) -> dict[str, dict]:
    """``NAME -> {"origin", "group"}`` for every SVG in the illustration folders (sorted)."""
    found = {}
    for folder in folders:
        for path in sorted((root / folder).rglob("*.svg")) if (root / folder).is_dir() else ():
            stem = path.stem
            name = f"{folder}__{re.sub(r'[^A-Za-z0-9_-]+', '_', stem)}"
            found[name] = {"origin": f"{SVG_DIR}/{path.relative_to(root).as_posix()}",
                           "group": group_key(folder, stem), "path": str(path)}
    return dict(sorted(found.items()))


def svg_artist(text: str) -> str | None:
    """The artist an OpenClipart SVG names in its metadata (``dc:creator``'s ``dc:title``), if any."""
    m = re.search(r"<dc:creator>.*?<dc:title>\s*([^<]+?)\s*</dc:title>", text, re.S)
    return m.group(1).strip()[:120] if m else None


def judge(color, line) -> tuple[bool, float, float]:
    """``(keep, score, ink)`` for a rendered pair (black-and-white drawings are not kept)."""
    ink = ink_fraction(line)
    score = pair_score(color, line)
    keep = MIN_INK <= ink <= MAX_INK and score >= MIN_SCORE and colourful_fraction(color) >= MIN_COLOURFUL
    return keep, score, ink


def render_pair(job: tuple[str, str, str, int]) -> tuple[str, str, float, float]:
    """Render, judge and (if kept) write one drawing; returns ``(name, status, score, ink)`` with
    status "kept", "rejected" or "error: ..."."""
    name, path, out, size = job
    out = Path(out)
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
        line_svg, _ = line_art_svg(text)
        color_rgba, line_rgba = render_pair_cropped(colour_svg(text), line_svg, size)
        color = pad_square(on_white(color_rgba), size)
        line = pad_square(on_white(line_rgba), size).min(axis=2)
    except Exception as exc:  # noqa: BLE001 - malformed SVGs fail in many ways (XML, resvg, numpy)
        return name, f"error: {short_error(exc)}", 0.0, 0.0
    keep, score, ink = judge(color, line)
    if keep:
        save_png(color, out / "color" / f"{name}.png")
        save_png(line, out / "black" / f"{name}.png")
    return name, "kept" if keep else "rejected", score, ink


def _attribution(path: str) -> str:
    """The package's attribution, with the artist named where the SVG's metadata names one."""
    try:
        artist = svg_artist(Path(path).read_text(encoding="utf-8", errors="replace"))
    except OSError:
        artist = None
    return f"{ATTRIBUTION}; artist: {artist}" if artist else ATTRIBUTION


def prepare_openclipart(out: str | os.PathLike, size: int = 256, source: str | os.PathLike | None = None, *,
                        limit: int | None = None, workers: int = 1, progress: bool = True) -> SourceResult:
    """Build ``out`` (the ``openclipart`` folder of the corpus); re-running skips finished and
    already rejected drawings."""
    start = time.perf_counter()
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="irodori-openclipart-") as tmp:
        package = resolve_package(source, Path(tmp), lambda d: fetch_deb(PACKAGE, d))
        drawings = list_drawings(svg_root(package))
        if not drawings:
            raise PrepareError(f"no SVG files in the illustration folders of {package}")
        if limit:
            drawings = dict(list(drawings.items())[:limit])
        old = read_manifest(out) or {}
        rejected = {k: v for k, v in old.get("rejected", {}).items() if k in drawings}
        scores = dict(old.get("scores", {}))
        done = [n for n in drawings if n not in rejected and is_done(out, n, pair=True)]
        todo = [(n, d["path"], str(out), size) for n, d in drawings.items() if n not in rejected and n not in done]
        for n, status, score, ink in run_jobs(render_pair, todo, workers, NAME, progress):
            scores[n] = round(score, 3)
            if status != "kept":
                rejected[n] = status if status.startswith("error") else f"score {score:.2f}, ink {ink:.3f}"
    kept = [n for n in drawings if n not in rejected and is_done(out, n, pair=True)]
    files = {n: {"split": split_of(drawings[n]["group"]), "group": drawings[n]["group"],
                 "origin": drawings[n]["origin"], "licence": LICENCE, "attribution": _attribution(drawings[n]["path"])}
             for n in kept}
    manifest = write_manifest(
        out, f"Debian {PACKAGE}", LICENCE, files, size=size, kind="pairs",
        rule=f"kept when ink covers {MIN_INK}..{MAX_INK} of the canvas, >= {MIN_SCORE} of strong colour "
             f"edges lie within 2 px of ink and >= {MIN_COLOURFUL} of pixels are coloured",
        considered=len(drawings), pass_rate=round(len(kept) / max(1, len(drawings)), 3),
        rejected=dict(sorted(rejected.items())), scores=dict(sorted(scores.items())))
    write_attribution(out, "OpenClipart", f"""
Images here are drawings from the Open Clip Art Library (https://openclipart.org) as shipped in the Debian
package `{PACKAGE}` (folders: {', '.join(FOLDERS)}), rasterized at {size} px by `irodori prepare openclipart`,
each with a line-art version derived from its own dark outline shapes.

Licence: public domain. The package's `usr/share/doc/openclipart-svg/copyright` states that every image is
released under the Creative Commons Public Domain Dedication; the artists are named in the original files.
""")
    return SourceResult(NAME, manifest, written=len(todo) - sum(1 for n, *_ in todo if n in rejected),
                        skipped=len(done), rejected=len(rejected), seconds=time.perf_counter() - start)
