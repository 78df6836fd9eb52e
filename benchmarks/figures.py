"""README figures from held-out drawings, made with the bundled model (or ``--model``).

    python benchmarks/figures.py regions --data data/corpus/openclipart --names NAME [NAME ...] --out docs/regions.png
    python benchmarks/figures.py sources --corpus data/corpus --openmoji data/corpus/openmoji --out docs/sources.png

``regions``: for each named test drawing, the line art with one dot deep inside each of its largest closed
regions (the region metrics' hints, colored from the ground truth), the network's own output
(``--flats model``), the default (``--flats regions``), hints-only flats and the ground truth, each titled
with its ``region_fill`` / ``bleed``.

``sources``: the first ``--per-source`` test drawings (name order, no picking) of each corpus source: line art
with the Hint-AUC protocol's scribbles at a 10% hint ratio, the default result, the ground truth.
"""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image, ImageDraw

from irodori.eval.metrics import region_bleed, region_fill
from irodori.eval.protocol import HINT_MAP_SIZE, load_drawings, require_hintauc
from irodori.eval.regionhints import closed_region_dots
from irodori.colorize.hint_input import HintLayer, layer_from_floats
from irodori.colorize.pipeline import Colorizer

MODES = ("model", "regions", "hints-only")


def tile(image: np.ndarray, size: int, title: str) -> Image.Image:
    im = Image.fromarray((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)).resize((size, size), Image.LANCZOS)
    out = Image.new("RGB", (size, size + 18), "white")
    out.paste(im, (0, 18))
    ImageDraw.Draw(out).text((4, 3), title, fill=(40, 40, 40))
    return out


def grid(tiles: list[Image.Image], columns: int) -> Image.Image:
    w, h = tiles[0].size
    fig = Image.new("RGB", (w * columns, h * ((len(tiles) + columns - 1) // columns)), "white")
    for i, t in enumerate(tiles):
        fig.paste(t, ((i % columns) * w, (i // columns) * h))
    return fig


def with_hints(line: np.ndarray, rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.where(mask[..., None] > 0, rgb, line[..., None] * 0.6 + 0.4)


def regions_figure(col: Colorizer, args) -> Image.Image:
    drawings = {d.name: d for d in load_drawings(args.data, args.split, 256)}
    tiles = []
    for name in args.names:
        d = drawings[name]
        hint, mask = closed_region_dots(d.line, d.truth)
        layer = layer_from_floats(hint, mask)
        tiles.append(tile(with_hints(d.line, hint, mask), args.tile, "line art + hints"))
        for mode in MODES:
            out = np.asarray(col(d.line, layer, flats=mode).image, np.float32) / 255
            fill, bleed = (m(out, d.truth, d.line, hint, mask) for m in (region_fill, region_bleed))
            tiles.append(tile(out, args.tile, f"--flats {mode}: fill {fill:.2f} bleed {bleed:.2f}"))
        tiles.append(tile(d.truth, args.tile, "ground truth"))
    return grid(tiles, len(MODES) + 2)


def sources_figure(col: Colorizer, args) -> Image.Image:
    hintauc = require_hintauc()
    roots = [(s, f"{args.corpus}/{s}") for s in args.sources] + ([("openmoji", args.openmoji)] if args.openmoji else [])
    tiles = []
    for name, root in roots:
        for d in load_drawings(root, "test", 256, args.per_source):
            truth8 = (d.truth * 255 + 0.5).astype(np.uint8)
            hints = hintauc.generate_hints(truth8[..., ::-1], size=HINT_MAP_SIZE, path_method="geodesic")
            color, mask = hintauc.hint_inputs(hints, args.ratio, "scribble", 256, 256, tie_break="stable")
            layer = HintLayer(np.ascontiguousarray(color[..., ::-1]), mask > 0)
            out = np.asarray(col(d.line, layer).image, np.float32) / 255
            tiles += [tile(with_hints(d.line, layer.rgb / 255.0, layer.mask), args.tile, f"{name}: {d.name[:24]}"),
                      tile(out, args.tile, "result"), tile(d.truth, args.tile, "ground truth")]
    return grid(tiles, 6)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="demo")
    p.add_argument("--tile", type=int, default=200, help="tile size in the figure")
    p.add_argument("--out", required=True)
    sub = p.add_subparsers(dest="figure", required=True)
    r = sub.add_parser("regions")
    r.add_argument("--data", required=True)
    r.add_argument("--split", default="test")
    r.add_argument("--names", nargs="+", required=True)
    s = sub.add_parser("sources")
    s.add_argument("--corpus", required=True, help="a directory made by `irodori prepare all`")
    s.add_argument("--sources", nargs="+", default=["openclipart", "dicebear", "wesnoth", "naev"])
    s.add_argument("--openmoji", help="also the OpenMoji test split from this directory")
    s.add_argument("--per-source", type=int, default=2)
    s.add_argument("--ratio", type=float, default=0.1)
    args = p.parse_args()
    col = Colorizer.from_pretrained(args.model)
    fig = (regions_figure if args.figure == "regions" else sources_figure)(col, args)
    fig.save(args.out)
    print(args.out)


if __name__ == "__main__":
    main()
