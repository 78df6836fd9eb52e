"""Precompute line art for a dataset: ``irodori prepare lineart --data DIR --method M``.

The learned extractors take seconds per image on a CPU, too slow to run per training sample, so
they are run once over a dataset:

* an OpenMoji directory (``DIR/color/*.png``, from ``irodori prepare openmoji``) gets
  ``DIR/lineart-M/NAME.png``;
* any other folder of images is mirrored: ``DIR/a/b.jpg`` -> ``OUT/a/b.png`` with
  ``OUT = DIR-lineart-M`` next to it by default (never inside DIR, where it would be read as
  illustrations).

Output PNGs are 8-bit greyscale line art, white paper = 255, the size of the (optionally resized)
input. Under ``torchrun`` each rank takes the files ``i % WORLD_SIZE == RANK`` of the sorted list
(no process group is needed). A re-run skips files already written; every write is atomic (temp
file + ``os.replace``), so an interrupted run leaves no half-written image. ``OUT/lineart.json``
records the method, size and weights; a run with other settings into the same folder is refused.
Classical methods run too (``xdog``, ``morph``), each file with its own generator seeded from its
output path, so the output does not depend on sharding.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from irodori.atomic import atomic_path, atomic_write_text
from irodori.colorize.imageio import find_images
from irodori.data.imageio import load_rgb
from irodori.data.lineart import LEARNED_EXTRACTORS, LINE_EXTRACTORS, LineExtractor, check_methods
from irodori.errors import PrepareError
from irodori.errors import InputError
from irodori.extractors import LEARNED
from irodori.weights import read_metadata, resolve

MANIFEST = "lineart.json"


@dataclass(frozen=True)
class LineartResult:
    out: Path
    written: int
    skipped: int
    rank: int
    world_size: int
    seconds: float
    failed: dict[str, str] = field(default_factory=dict)


def shard_from_env() -> tuple[int, int]:
    """``(RANK, WORLD_SIZE)`` as torchrun sets them, ``(0, 1)`` otherwise."""
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    if world < 1 or not 0 <= rank < world:
        raise PrepareError(f"bad RANK={rank} / WORLD_SIZE={world}")
    return rank, world


def plan(data: Path, method: str, out: Path | None = None) -> tuple[list[tuple[Path, Path]], Path]:
    """``([(source image, output png)], out)``, sorted by source, for the layout ``data`` has."""
    if not data.is_dir():
        raise PrepareError(f"--data {data} is not a directory")
    if (data / "color").is_dir():
        root, out = data / "color", out or data / f"lineart-{method}"
    else:
        root, out = data, out or data.parent / f"{data.name}-lineart-{method}"
    out = Path(out)
    pairs, seen = [], {}
    for src in find_images(root):
        if src.resolve().is_relative_to(out.resolve()):
            continue
        dst = out / src.relative_to(root).with_suffix(".png")
        if dst in seen:
            raise PrepareError(f"{seen[dst]} and {src} would both be written to {dst}")
        seen[dst] = src
        pairs.append((src, dst))
    if not pairs:
        raise PrepareError(f"no images found in {root}")
    return pairs, out


def resize_short_side(rgb: np.ndarray, size: int) -> np.ndarray:
    """Resize so the shorter side is ``size`` (area filter when shrinking, bicubic when enlarging)."""
    h, w = rgb.shape[:2]
    if min(h, w) == size:
        return rgb
    scale = size / min(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(rgb, (nw, nh), interpolation=interp)


def _save_png_atomic(line: np.ndarray, path: Path) -> None:
    with atomic_path(path, suffix=".png") as tmp:
        Image.fromarray(np.clip(line * 255.0 + 0.5, 0, 255).astype(np.uint8), mode="L").save(tmp, format="PNG")


def _device(device: str) -> str:
    if device != "auto":
        return device
    return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}" if torch.cuda.is_available() else "cpu"


def make_extractor(method: str, *, weights: str | os.PathLike | None = None, device: str = "auto",
                   threads: int | None = 1) -> tuple[LineExtractor, str | None]:
    """The extraction function for ``method`` (a learned network loaded once, on ``device``) and the
    content hash of its weights (None for classical methods)."""
    if method in LINE_EXTRACTORS:
        return LINE_EXTRACTORS[method], None
    if method not in LEARNED_EXTRACTORS:
        check_methods({method: 1.0})  # raises: unknown method
    record, extract, load = LEARNED[method]
    if weights is None:
        check_methods({method: 1.0})  # ConfigError naming the file and the convert-weights command
    net = load(weights, device=_device(device))
    digest = read_metadata(resolve(record, weights))["content_sha256"]
    return (lambda image, rng: extract(image, rng, net=net, threads=threads)), digest


def _check_manifest(out: Path, settings: dict, rank: int) -> None:
    path = out / MANIFEST
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            old = {}
        diff = {k: (old.get(k), v) for k, v in settings.items() if k != "source" and old.get(k) != v}
        if diff:
            raise PrepareError(f"{out} holds line art made with other settings "
                               + ", ".join(f"{k}: {a!r} there, {b!r} now" for k, (a, b) in diff.items())
                               + "; use another --out or the same settings")
    elif rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(settings, indent=1) + "\n")


def prepare_lineart(data: str | os.PathLike, method: str, out: str | os.PathLike | None = None, *,
                    size: int | None = None, rank: int | None = None, world_size: int | None = None,
                    extractor: LineExtractor | None = None, weights: str | os.PathLike | None = None,
                    device: str = "auto", threads: int | None = 1, progress: bool = True) -> LineartResult:
    """Write this rank's share of the line art of ``data`` with ``method``; see the module docstring.

    ``size``: resize each image so its shorter side is ``size`` first (default: as it is).
    ``rank`` / ``world_size``: default from ``RANK`` / ``WORLD_SIZE``. ``extractor`` replaces the
    method's function (tests); ``weights`` is an explicit converted weights file.
    """
    start = time.perf_counter()
    if size is not None and size < 8:
        raise PrepareError(f"--size must be at least 8 pixels, got {size}")
    env_rank, env_world = shard_from_env()
    rank = env_rank if rank is None else rank
    world_size = env_world if world_size is None else world_size
    pairs, out = plan(Path(data), method, Path(out) if out else None)
    digest = None
    if extractor is None:
        extractor, digest = make_extractor(method, weights=weights, device=device, threads=threads)
    _check_manifest(out, {"method": method, "size": size, "weights_sha256": digest, "source": str(data)}, rank)

    mine = [p for i, p in enumerate(pairs) if i % world_size == rank]
    todo = [(src, dst) for src, dst in mine if not dst.is_file()]
    failed: dict[str, str] = {}
    bar = tqdm(total=len(todo), desc=f"lineart-{method}", unit="img",
               disable=not progress or rank != 0 or not todo)
    for src, dst in todo:
        rel = dst.relative_to(out).as_posix()  # names the file in failures and seeds its generator
        try:
            rgb = load_rgb(src)
        except InputError as exc:
            failed[rel] = str(exc)
            bar.update()
            continue
        if size is not None:
            rgb = resize_short_side(rgb, size)
        rng = np.random.default_rng(int(hashlib.sha1(rel.encode("utf-8")).hexdigest()[:8], 16))
        line = extractor(rgb, rng)
        if line.shape != rgb.shape[:2]:
            raise PrepareError(f"the {method} extractor returned {line.shape} for a {rgb.shape[:2]} image")
        _save_png_atomic(line, dst)
        bar.update()
    bar.close()
    return LineartResult(out=out, written=len(todo) - len(failed), skipped=len(mine) - len(todo), rank=rank,
                         world_size=world_size, seconds=time.perf_counter() - start, failed=failed)
