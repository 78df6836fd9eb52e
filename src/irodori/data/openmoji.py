"""Prepare OpenMoji (CC BY-SA 4.0) as line art / color pairs: ``irodori prepare openmoji``.

Source: the ``openmoji`` npm package (``npm pack``), its ``.tgz``, or an unpacked copy. Each emoji's
``color/svg`` and ``black/svg`` drawings are rasterized with resvg onto white paper. The groups
``flags``, ``component`` and ``extras-unicode`` are dropped (flags and swatches have no line art
worth learning). Splits are by drawing: skin-tone variants share their base emoji's group key
(``skintone_base_hexcode``, else ``hexcode``), and ``int(sha1(key)[:8], 16) % 10`` is 0 for test,
1 for val, else train, so no drawing is in two splits.

Output::

    OUT/color/HEXCODE.png   RGB
    OUT/black/HEXCODE.png   greyscale line art
    OUT/manifest.json       per-file split, group, category; counts per split
    OUT/ATTRIBUTION.md

Every file is written atomically (temp file + ``os.replace``); a re-run skips finished files.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import tempfile
import time
from dataclasses import dataclass
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import resvg_py
from PIL import Image
from tqdm import tqdm

from irodori.atomic import atomic_path, atomic_write_text
from irodori.colorize.imageio import to_rgb_array
from irodori.data.splits import hash_split
from irodori.errors import PrepareError
from irodori.npm import npm_pack

OPENMOJI_VERSION = "17.0.0"
DROPPED_GROUPS = ("flags", "component", "extras-unicode")
LICENCE = "CC BY-SA 4.0"
ATTRIBUTION = "All emojis designed by OpenMoji – the open-source emoji and icon project. License: CC BY-SA 4.0"


# ---------------------------------------------------------------------------
# Source


def fetch_package(workdir: Path, version: str = OPENMOJI_VERSION) -> Path:
    """``npm pack openmoji@VERSION`` into ``workdir``; returns the ``.tgz`` path."""
    return npm_pack(f"openmoji@{version}", workdir, error=PrepareError,
                    instead=f"pass --source with an openmoji {version} .tgz or unpacked package")


def _extract_tgz(tgz: Path, workdir: Path) -> Path:
    wanted = ("package/package.json", "package/data/openmoji.json", "package/color/svg/", "package/black/svg/")
    try:
        with tarfile.open(tgz, "r:*") as tar:
            members = [m for m in tar.getmembers() if m.isfile() and m.name.startswith(wanted)]
            tar.extractall(workdir, members=members, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise PrepareError(f"cannot unpack {tgz}: {exc}") from None
    return workdir / "package"


def resolve_source(source: str | os.PathLike | None, workdir: Path) -> Path:
    """The root of an unpacked openmoji package (holding ``data/openmoji.json``), fetching or
    unpacking into ``workdir`` as needed."""
    if source is None:
        root = _extract_tgz(fetch_package(workdir), workdir)
    else:
        source = Path(source)
        if source.is_file():
            root = _extract_tgz(source, workdir)
        elif source.is_dir():
            root = source / "package" if (source / "package" / "data" / "openmoji.json").is_file() else source
        else:
            raise PrepareError(f"--source {source} does not exist")
    for needed in ("data/openmoji.json", "color/svg", "black/svg"):
        if not (root / needed).exists():
            raise PrepareError(f"{source or 'the npm package'} is not an openmoji package: {needed} is missing")
    return root


def read_entries(root: Path) -> list[dict]:
    """The records of ``data/openmoji.json``, checked for the keys this module uses."""
    path = root / "data" / "openmoji.json"
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise PrepareError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(entries, list) or not all(isinstance(e, dict) and "hexcode" in e and "group" in e
                                                for e in entries):
        raise PrepareError(f"{path} is not an openmoji index (a list of records with hexcode and group)")
    return entries


def plan_splits(entries: list[dict]) -> dict[str, dict]:
    """``hexcode -> {"split", "group", "category"}`` for every kept entry (dropped groups left out)."""
    planned = {}
    for e in entries:
        if e["group"] in DROPPED_GROUPS:
            continue
        key = e.get("skintone_base_hexcode") or e["hexcode"]
        planned[e["hexcode"]] = {"split": hash_split(key, buckets=10), "group": key, "category": e["group"]}
    return dict(sorted(planned.items()))


# ---------------------------------------------------------------------------
# Rendering


def render_svg(path: str | os.PathLike, size: int) -> np.ndarray:
    """Rasterize an SVG to a ``size×size×3 uint8`` RGB array on white paper."""
    png = resvg_py.svg_to_bytes(svg_path=str(path), width=size, height=size, background="white",
                                skip_system_fonts=True)
    with Image.open(io.BytesIO(bytes(png))) as im:
        return to_rgb_array(im)


def _save_png_atomic(image: Image.Image, path: Path) -> None:
    with atomic_path(path, suffix=".png") as tmp:
        image.save(tmp, format="PNG")


def _render_pair(job: tuple[str, str, str, int]) -> tuple[str, str | None]:
    """Render one emoji's color and black drawings; returns ``(hexcode, error or None)``."""
    hexcode, src, out, size = job
    src, out = Path(src), Path(out)
    try:
        color = render_svg(src / "color" / "svg" / f"{hexcode}.svg", size)
        black = render_svg(src / "black" / "svg" / f"{hexcode}.svg", size)
        grey = Image.fromarray(black).convert("L")
        _save_png_atomic(Image.fromarray(color), out / "color" / f"{hexcode}.png")
        _save_png_atomic(grey, out / "black" / f"{hexcode}.png")
    except (ValueError, OSError) as exc:
        return hexcode, str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return hexcode, None


def _attribution(version: str, size: int) -> str:
    return (f"# Attribution\n\n{ATTRIBUTION}\n\n"
            "- Project: https://openmoji.org/\n"
            "- License: Creative Commons Attribution-ShareAlike 4.0 International, "
            "https://creativecommons.org/licenses/by-sa/4.0/\n\n"
            f"The images here are the OpenMoji {version} `color/svg` and `black/svg` drawings, rasterized at "
            f"{size}x{size} px onto white by `irodori prepare openmoji`. They are shared under the same license.\n")


@dataclass(frozen=True)
class PrepareResult:
    manifest: dict
    rendered: int
    skipped: int
    seconds: float


def prepare_openmoji(out: str | os.PathLike, size: int = 256, source: str | os.PathLike | None = None, *,
                     workers: int | None = None, progress: bool = True) -> PrepareResult:
    """Build the OpenMoji pair directory at ``out``; returns the manifest (also written to ``out``) and stats.

    ``source``: None runs ``npm pack openmoji@17.0.0``; else a ``.tgz`` or an unpacked package.
    ``workers``: rendering processes (default: the CPU count; 1 renders in this process).
    """
    if size < 8:
        raise PrepareError(f"--size must be at least 8 pixels, got {size}")
    start = time.perf_counter()
    out = Path(out)
    for sub in ("color", "black"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="irodori-openmoji-") as tmp:
        root = resolve_source(source, Path(tmp))
        try:
            version = json.loads((root / "package.json").read_text()).get("version", "unknown")
        except (OSError, ValueError):
            version = "unknown"
        planned = plan_splits(read_entries(root))
        missing = [h for h in planned if not (root / "color" / "svg" / f"{h}.svg").is_file()
                   or not (root / "black" / "svg" / f"{h}.svg").is_file()]
        for h in missing:
            del planned[h]
        done = {h for h in planned if (out / "color" / f"{h}.png").is_file() and (out / "black" / f"{h}.png").is_file()}
        if done:
            with Image.open(out / "color" / f"{next(iter(sorted(done)))}.png") as im:
                if im.size != (size, size):
                    raise PrepareError(f"{out} already holds {im.size[0]} px images; use --size {im.size[0]} "
                                       "to finish it or another --out")
        todo = [(h, str(root), str(out), size) for h in planned if h not in done]
        failed: dict[str, str] = {}
        workers = max(1, workers or os.cpu_count() or 1)
        bar = tqdm(total=len(todo), desc="openmoji", unit="emoji", disable=not progress or not todo)
        if workers == 1 or len(todo) < 2:
            results = map(_render_pair, todo)
            for hexcode, err in results:
                if err:
                    failed[hexcode] = err
                bar.update()
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for hexcode, err in pool.map(_render_pair, todo, chunksize=16):
                    if err:
                        failed[hexcode] = err
                    bar.update()
        bar.close()

    files = {h: {**rec, "licence": LICENCE, "attribution": ATTRIBUTION} for h, rec in planned.items() if h not in failed}
    counts = {s: sum(1 for r in files.values() if r["split"] == s) for s in ("train", "val", "test")}
    manifest = {
        "source": f"openmoji@{version}",
        "size": size,
        "licence": LICENCE,
        "attribution": ATTRIBUTION,
        "split_rule": "int(sha1(group)[:8], 16) % 10: 0 test, 1 val, else train; "
                      "group = skintone_base_hexcode or hexcode",
        "dropped_groups": list(DROPPED_GROUPS),
        "counts": counts,
        "missing_svg": sorted(missing),
        "failed": failed,
        "files": files,
    }
    atomic_write_text(out / "manifest.json", json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    atomic_write_text(out / "ATTRIBUTION.md", _attribution(version, size))
    return PrepareResult(manifest=manifest, rendered=len(todo) - len(failed), skipped=len(done),
                         seconds=time.perf_counter() - start)
