"""What every corpus source shares: fetching and unpacking packages, atomic PNG writes, square
padding on white, the manifest and ATTRIBUTION.md, group splits, a resumable job runner.

Layout per source::

    OUT/<source>/color/NAME.png   RGB on white
    OUT/<source>/black/NAME.png   greyscale line art (vector sources only)
    OUT/<source>/manifest.json    {"source", "licence", "files": {NAME: {"split", "group", "origin",
                                   "licence", "attribution", ...}}, "counts", ...}
    OUT/<source>/ATTRIBUTION.md
"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
from PIL import Image

from irodori.atomic import atomic_path, atomic_write_text
from irodori.data.splits import hash_split, is_kept
from irodori.errors import PrepareError

SPLIT_NAMES = ("train", "val", "test")


@dataclass(frozen=True)
class SourceResult:
    """What one ``prepare`` of a source did."""

    name: str
    manifest: dict
    written: int
    skipped: int
    rejected: int
    seconds: float


# ---------------------------------------------------------------------------
# Packages


def fetch_deb(package: str, workdir: Path) -> Path:
    """``apt-get download PACKAGE`` into ``workdir``; returns the ``.deb``."""
    try:
        proc = subprocess.run(["apt-get", "download", package], cwd=workdir, capture_output=True, text=True,
                              timeout=1800)
    except FileNotFoundError:
        raise PrepareError(f"apt-get not found: pass --source with an unpacked {package} or its .deb") from None
    except subprocess.TimeoutExpired:
        raise PrepareError(f"`apt-get download {package}` did not finish in 30 minutes") from None
    debs = sorted(workdir.glob(f"{package}_*.deb"))
    if proc.returncode != 0 or not debs:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-2:])
        raise PrepareError(f"`apt-get download {package}` failed (exit {proc.returncode}): {tail}; "
                          f"pass --source with an unpacked {package} or its .deb")
    return debs[-1]


def unpack(archive: Path, workdir: Path) -> Path:
    """Unpack a ``.deb`` (``dpkg-deb -x``) or a ``.tgz`` into a fresh folder of ``workdir``."""
    target = workdir / (archive.name + ".d")
    target.mkdir(parents=True, exist_ok=True)
    if archive.suffix == ".deb":
        try:
            proc = subprocess.run(["dpkg-deb", "-x", str(archive), str(target)], capture_output=True, text=True)
        except FileNotFoundError:
            raise PrepareError("dpkg-deb not found: unpack the .deb yourself and pass the folder") from None
        if proc.returncode != 0:
            raise PrepareError(f"cannot unpack {archive}: {proc.stderr.strip().splitlines()[-1:]}")
        return target
    try:
        with tarfile.open(archive, "r:*") as tar:
            tar.extractall(target, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise PrepareError(f"cannot unpack {archive}: {exc}") from None
    return target


def resolve_package(source: str | os.PathLike | None, workdir: Path, fetch: Callable[[Path], Path]) -> Path:
    """An unpacked package folder: ``source`` itself if a folder, unpacked if a ``.deb``/``.tgz``,
    else fetched with ``fetch(workdir)`` and unpacked."""
    if source is None:
        return unpack(fetch(workdir), workdir)
    path = Path(source)
    if path.is_dir():
        return path
    if path.is_file() and (path.suffix in (".deb", ".tgz") or path.name.endswith(".tar.gz")):
        return unpack(path, workdir)
    if path.exists():
        raise PrepareError(f"--source {path} is neither a folder nor a .deb/.tgz package")
    raise PrepareError(f"--source {path} does not exist")


def find_one(root: Path, relative: str, what: str) -> Path:
    """``root/relative`` or ``root/*/relative`` (a package unpacked one level down); PrepareError otherwise."""
    for base in (root, *sorted(p for p in root.iterdir() if p.is_dir())):
        if (base / relative).exists():
            return base / relative
    raise PrepareError(f"{root} is not {what}: {relative} not found")


# ---------------------------------------------------------------------------
# Images


def pad_square(rgb: np.ndarray, size: int, fill: int = 255) -> np.ndarray:
    """Resize so the long side is ``size`` (area filter when shrinking) and centre on a ``size``
    square of ``fill``. Works for H×W and H×W×C ``uint8``."""
    import cv2

    h, w = rgb.shape[:2]
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    if (nh, nw) != (h, w):
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
        rgb = cv2.resize(rgb, (nw, nh), interpolation=interp)
    out = np.full((size, size, *rgb.shape[2:]), fill, np.uint8)
    y, x = (size - nh) // 2, (size - nw) // 2
    out[y:y + nh, x:x + nw] = rgb
    return out


def on_white(rgba: np.ndarray) -> np.ndarray:
    """Composite an H×W×4 ``uint8`` image onto white; returns H×W×3."""
    a = rgba[..., 3:4].astype(np.float32) / 255.0
    rgb = rgba[..., :3].astype(np.float32) * a + 255.0 * (1.0 - a)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def save_png(array: np.ndarray, path: Path) -> None:
    """Write an RGB (H×W×3) or greyscale (H×W) ``uint8`` array as an optimized PNG, atomically."""
    mode = "L" if array.ndim == 2 else "RGB"
    with atomic_path(path, suffix=".png") as tmp:
        Image.fromarray(array, mode).save(tmp, format="PNG", optimize=True)


def is_done(out: Path, name: str, pair: bool) -> bool:
    return (out / "color" / f"{name}.png").is_file() and (not pair or (out / "black" / f"{name}.png").is_file())


# ---------------------------------------------------------------------------
# Manifest


def split_of(group: str) -> str:
    """Split of a group key (see :func:`irodori.data.splits.hash_split`, 10 buckets)."""
    return hash_split(group, buckets=10)


def count_splits(files: dict[str, dict]) -> dict[str, int]:
    return {s: sum(1 for r in files.values() if r["split"] == s and is_kept(r)) for s in SPLIT_NAMES}


def write_manifest(out: Path, source: str, licence: str, files: dict[str, dict], **extra) -> dict:
    """Write ``out/manifest.json`` (sorted files, counts per split) atomically; returns it."""
    files = dict(sorted(files.items()))
    manifest = {"source": source, "licence": licence, "counts": count_splits(files), **extra, "files": files}
    atomic_write_text(out / "manifest.json", json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return manifest


def read_manifest(out: Path) -> dict | None:
    try:
        return json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_attribution(out: Path, title: str, body: str) -> None:
    atomic_write_text(out / "ATTRIBUTION.md", f"# {title}\n\n{body.strip()}\n")


# ---------------------------------------------------------------------------
# Running jobs


def run_jobs(fn: Callable, jobs: list, workers: int, desc: str, progress: bool) -> Iterable:
    """``fn(job)`` for every job, in order, in up to ``workers`` processes, with a progress bar."""
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), desc=desc, unit="img", disable=not progress or not jobs)
    try:
        if workers <= 1 or len(jobs) < 2:
            for job in jobs:
                yield fn(job)
                bar.update()
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for result in pool.map(fn, jobs, chunksize=4):
                    yield result
                    bar.update()
    finally:
        bar.close()


def short_error(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
