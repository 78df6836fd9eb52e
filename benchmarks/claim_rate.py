"""How often a hint dot does what the artist meant, on cropped figures (issue 23's claim rate).

Each drawing of a prepared split (line art from ``black/``) is cropped so that the figure runs off the
image: the crop keeps the middle of the ink's bounding box (``--crop`` of its height and width), so hair,
feet, sleeves and skirts touch the edges, and is scaled to ``--size`` px on its long side. Dots of the
page's default size (long side / 96) go into every region of at least ``--min-area`` of the image, at a
seeded random pixel at least half a dot from the ink (a sloppy artist's dot may touch a line); every
third large region gets two dots instead, a light and a dark tone of one hue (a multiple of the color).
The rules run without a model, in ``hints-only`` mode (unhinted regions white): a dot *claims* when the
pixels of its own region under it come out its color under the lines (flats × shading) (within ``--tolerance``/255 per channel, median);
a dot of a tone pair claims when they come out the pair's hue (the chromaticity of its lighter tone, within
``HUE_TOLERANCE``): that tone is the flat and the model places the shade, so with no model the region is the
light tone throughout.

    python benchmarks/claim_rate.py --data data/corpus/openmoji --split val --limit 40

Prints the claim rate per kind of dot (inside one region; touching a line; in a region touching one edge;
in the outer background; tone pairs) and overall. ``--save DIR`` writes a few examples (line art, hints,
result) to look at.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from irodori.colorize.claims import chromaticity, claim_regions, outer_background
from irodori.colorize.flats import compose
from irodori.colorize.hint_input import default_hint_size
from irodori.colorize.regions import depth, segment


def crop_figure(line: np.ndarray, keep: float, size: int) -> np.ndarray | None:
    """The middle ``keep`` of the ink's bounding box, scaled to ``size`` on its long side (None: no ink)."""
    ys, xs = np.nonzero(line < 0.5)
    if ys.size < 50:
        return None
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    dy, dx = (y1 - y0) * (1 - keep) / 2, (x1 - x0) * (1 - keep) / 2
    crop = line[int(y0 + dy):int(np.ceil(y1 - dy)), int(x0 + dx):int(np.ceil(x1 - dx))]
    if min(crop.shape) < 16:
        return None
    scale = size / max(crop.shape)
    out = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))),
                     interpolation=cv2.INTER_CUBIC)
    return np.clip(out, 0, 1)


def place_dots(line, regions, rng, min_area: float):
    """[(kind, y, x, rgb, label)] and the hint layer (rgb, mask) they make."""
    h, w = line.shape
    size = default_hint_size(h, w)
    r = size / 2
    dep = depth(regions)
    background = outer_background(regions)
    hint, mask = np.zeros((h, w, 3), np.float32), np.zeros((h, w), np.float32)
    yy, xx = np.mgrid[:h, :w]
    dots, big = [], 0
    order = np.argsort(-regions.area[1:]) + 1
    for lab in order:
        if regions.area[lab] < min_area * h * w:
            break
        ys, xs = np.nonzero((regions.labels == lab) & (dep >= max(1.0, 0.5 * r)))
        if ys.size == 0:
            continue
        hsv = np.array([[[rng.uniform(0, 180), rng.uniform(100, 230), rng.uniform(140, 240)]]], np.uint8)
        base = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0] / 255.0
        big += 1
        tones = [1.0, 0.6] if big % 3 == 0 and ys.size > 40 * size * size else [1.0]
        for t in tones:
            i = rng.integers(ys.size)
            y, x = int(ys[i]), int(xs[i])
            rgb = np.clip(base * t, 0, 1)
            disc = (yy - y) ** 2 + (xx - x) ** 2 <= r * r
            hint[disc], mask[disc] = rgb, 1
            kind = ("tone" if len(tones) > 1 else "background" if background[lab]
                    else "edge" if regions.border[lab] else "touching" if regions.ink[disc].any() else "inside")
            dots.append((kind, y, x, rgb, lab, disc))
    return dots, hint, mask


#: Chromaticity distance (max over r, g, b of the sums' shares) under which a tone pair's region shows the pair's hue.
HUE_TOLERANCE = 0.02


def score(line, regions, dots, hint, mask, tolerance: float) -> list[tuple[str, bool]]:
    claims = claim_regions(regions, hint, mask)
    white = np.ones(line.shape + (3,), np.float32)
    layers = compose(white, line, regions, claims, "hints-only", 0.0)
    image = layers.flats * layers.shading  # the color under the lines (anti-aliased ink darkens the rest)
    out = []
    for kind, _y, _x, rgb, lab, disc in dots:
        own = disc & (regions.labels == lab) & ~regions.ink
        if not own.any():
            own = disc & (regions.labels == lab)
        if kind == "tone":  # the pair's lightest tone is the flat, the model shades it: its hue must show
            light = max((d[3] for d in dots if d[0] == "tone" and d[4] == lab), key=lambda c: float(np.sum(c)))
            got = chromaticity(np.median(image[own], axis=0)[None])[0]
            out.append((kind, bool(np.abs(got - chromaticity(np.asarray(light)[None])[0]).max() <= HUE_TOLERANCE)))
            continue
        err = np.median(np.abs(image[own] - rgb), axis=0).max()
        out.append((kind, bool(err <= tolerance / 255)))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="val")
    p.add_argument("--limit", type=int, default=40)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--crop", type=float, default=0.7, help="share of the ink's bounding box kept")
    p.add_argument("--min-area", type=float, default=0.003)
    p.add_argument("--tolerance", type=float, default=12)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save", type=Path)
    args = p.parse_args()
    files = json.loads((Path(args.data) / "manifest.json").read_text())["files"]
    names = sorted(k for k, v in files.items() if v["split"] == args.split and not v.get("duplicate_of"))
    results: list[tuple[str, bool]] = []
    used = 0
    for i, name in enumerate(names):
        if used >= args.limit:
            break
        black = Path(args.data) / "black" / f"{name}.png"
        if not black.is_file():
            continue
        line = crop_figure(np.asarray(Image.open(black).convert("L"), np.float32) / 255, args.crop, args.size)
        if line is None:
            continue
        used += 1
        regions = segment(line)
        dots, hint, mask = place_dots(line, regions, np.random.default_rng([args.seed, i]), args.min_area)
        results += score(line, regions, dots, hint, mask, args.tolerance)
        if args.save and used <= 6:
            args.save.mkdir(parents=True, exist_ok=True)
            view = np.where(mask[..., None] > 0, hint, line[..., None])
            Image.fromarray((view * 255).astype(np.uint8)).save(args.save / f"{name}.hints.png")
    kinds = ["inside", "touching", "edge", "background", "tone"]
    for kind in kinds + ["all"]:
        got = [ok for k, ok in results if kind in (k, "all")]
        if got:
            print(f"{kind:<11} {sum(got):>4} of {len(got):>4} dots claim ({np.mean(got):.3f})")
    print(f"{used} cropped drawings of {args.data} ({args.split}) at {args.size} px, crop {args.crop}")


if __name__ == "__main__":
    main()
