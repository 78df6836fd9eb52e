"""Before/after figure for the README: the model alone against region-aware flats on closed drawings.

    python benchmarks/figure_regions.py --data DIR --split test --names NAME [NAME ...] --out docs/regions.png

For each drawing: line art with its hints (one dot deep inside each of the largest closed regions, the
region metrics' hints, colored from the ground truth), the model's own output (``--flats model``), the
default (``--flats regions``), hints-only flats, and the ground truth; each panel titled with its
``region_fill`` / ``bleed``.
"""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image, ImageDraw

from irodori.eval.metrics import region_bleed, region_fill
from irodori.eval.protocol import load_drawings
from irodori.eval.regionhints import closed_region_dots
from irodori.hint_input import HintLayer
from irodori.pipeline import Colorizer

MODES = ("model", "regions", "hints-only")


def panel(image: np.ndarray, title: str, size: int) -> Image.Image:
    im = Image.fromarray((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)).resize((size, size), Image.LANCZOS)
    out = Image.new("RGB", (size, size + 18), "white")
    out.paste(im, (0, 18))
    ImageDraw.Draw(out).text((4, 3), title, fill=(40, 40, 40))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="demo")
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="test")
    p.add_argument("--names", nargs="+", required=True)
    p.add_argument("--size", type=int, default=256, help="drawing size")
    p.add_argument("--panel", type=int, default=220, help="panel size in the figure")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    col = Colorizer.from_pretrained(args.model)
    drawings = {d.name: d for d in load_drawings(args.data, args.split, args.size)}
    rows = []
    for name in args.names:
        d = drawings[name]
        hint, mask = closed_region_dots(d.line, d.truth)
        layer = HintLayer((hint * 255 + 0.5).astype(np.uint8), mask > 0.5)
        shown = np.where(mask[..., None] > 0, hint, d.line[..., None] * 0.6 + 0.4)
        tiles = [panel(shown, "line art + hints", args.panel)]
        for mode in MODES:
            out = np.asarray(col(d.line, layer, flats=mode).image, np.float32) / 255
            fill = region_fill(out, d.truth, d.line, hint, mask)
            bleed = region_bleed(out, d.truth, d.line, hint, mask)
            tiles.append(panel(out, f"--flats {mode}: fill {fill:.2f} bleed {bleed:.2f}", args.panel))
        tiles.append(panel(d.truth, "ground truth", args.panel))
        row = Image.new("RGB", (args.panel * len(tiles), args.panel + 18), "white")
        for i, t in enumerate(tiles):
            row.paste(t, (i * args.panel, 0))
        rows.append(row)
    fig = Image.new("RGB", (rows[0].width, sum(r.height for r in rows)), "white")
    y = 0
    for r in rows:
        fig.paste(r, (0, y))
        y += r.height
    fig.save(args.out)
    print(args.out)


if __name__ == "__main__":
    main()
