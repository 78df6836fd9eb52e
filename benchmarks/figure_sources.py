"""Grid of test drawings from each source of the corpus: line art with hints, result, ground truth.

    python benchmarks/figure_sources.py --corpus data/corpus --sources openclipart dicebear wesnoth naev \
        --openmoji data/openmoji --per-source 3 --out docs/sources.png

The hints are the Hint-AUC protocol's (``hintauc``, geodesic scribbles on its 64×64 grid) at a 10% hint ratio,
as `irodori evaluate --protocol hintauc` gives them; each result is the default pipeline (``--flats regions``).
The drawings are the first ``--per-source`` of each test split in name order (no picking).
"""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image, ImageDraw

from irodori.eval.protocol import HINT_MAP_SIZE, load_drawings, require_hintauc
from irodori.hint_input import HintLayer
from irodori.pipeline import Colorizer


def tile(image: np.ndarray, size: int, title: str) -> Image.Image:
    im = Image.fromarray((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)).resize((size, size), Image.LANCZOS)
    out = Image.new("RGB", (size, size + 16), "white")
    out.paste(im, (0, 16))
    ImageDraw.Draw(out).text((3, 2), title, fill=(40, 40, 40))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="demo")
    p.add_argument("--corpus", required=True, help="a directory made by `irodori prepare all`")
    p.add_argument("--sources", nargs="+", default=["openclipart", "dicebear", "wesnoth", "naev"])
    p.add_argument("--openmoji", help="also the OpenMoji test split from this directory")
    p.add_argument("--per-source", type=int, default=3)
    p.add_argument("--ratio", type=float, default=0.1)
    p.add_argument("--tile", type=int, default=160)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    hintauc = require_hintauc()
    col = Colorizer.from_pretrained(args.model)
    dirs = [(s, f"{args.corpus}/{s}") for s in args.sources] + ([("openmoji", args.openmoji)] if args.openmoji else [])
    rows = []
    for name, root in dirs:
        for d in load_drawings(root, "test", 256, args.per_source):
            truth8 = (d.truth * 255 + 0.5).astype(np.uint8)
            hints = hintauc.generate_hints(truth8[..., ::-1], size=HINT_MAP_SIZE, path_method="geodesic")
            color, mask = hintauc.hint_inputs(hints, args.ratio, "scribble", 256, 256, tie_break="stable")
            layer = HintLayer(np.ascontiguousarray(color[..., ::-1]), mask > 0)
            shown = np.where(layer.mask[..., None], layer.rgb / 255.0, d.line[..., None] * 0.6 + 0.4)
            out = np.asarray(col(d.line, layer).image, np.float32) / 255
            rows.append([tile(shown, args.tile, f"{name}: {d.name[:24]}"), tile(out, args.tile, "result"),
                         tile(d.truth, args.tile, "ground truth")])
    cols = 2  # two drawings side by side per figure row
    w, h = rows[0][0].size
    fig = Image.new("RGB", (3 * w * cols, h * ((len(rows) + cols - 1) // cols)), "white")
    for i, row in enumerate(rows):
        for j, t in enumerate(row):
            fig.paste(t, ((i % cols) * 3 * w + j * w, (i // cols) * h))
    fig.save(args.out)
    print(args.out)


if __name__ == "__main__":
    main()
