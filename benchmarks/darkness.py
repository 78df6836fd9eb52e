"""Where do the model's dark no-hint guesses come from? One run, one model, the same drawings.

For every drawing of a corpus split that has real line art (``black/``), the network alone colorizes it
with no hints twice: once from its real line art and once from XDoG line art of its colour image (the
fixed evaluation XDoG, the style every painting is trained with). It prints the figure's mean lightness
(CIELAB L*/100 over :func:`irodori.data.figure.figure_mask`) of both outputs beside the ground truth's.
If dense XDoG lines are a cue for dark painting, the XDoG column is the darker one on the same drawings.
Paintings (no ``black/``) are scored from their XDoG line art only.

    python benchmarks/darkness.py --data data/corpus --split val --limit 60 [--model demo]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from irodori.data.lineart import luma, xdog
from irodori.data.figure import figure_mask
from irodori.eval.metrics import figure_lightness
from irodori.eval.protocol import EVAL_XDOG, load_drawings
from irodori.colorize.hint_input import HintLayer
from irodori.colorize.pipeline import Colorizer


def no_hint_lightness(col: Colorizer, line: np.ndarray, figure: np.ndarray) -> float:
    colors = col.model_colors(line, HintLayer.empty(*line.shape)) * line[..., None]
    return figure_lightness(colors, figure)


def probe_source(col: Colorizer, root: Path, split: str, limit: int | None) -> dict:
    rows = {"truth": [], "real_lines": [], "xdog_lines": []}
    for d in load_drawings(root, split, col.native_size, limit):
        figure = figure_mask(d.truth)
        rows["truth"].append(figure_lightness(d.truth, figure))
        if (root / "black" / f"{d.name}.png").is_file():
            rows["real_lines"].append(no_hint_lightness(col, d.line, figure))
        grey, white = luma(d.truth)
        rows["xdog_lines"].append(no_hint_lightness(col, np.clip(xdog(grey, EVAL_XDOG, white), 0, 1), figure))
    return {k: (float(np.nanmean(v)) if v else None) for k, v in rows.items()} | {"drawings": len(rows["truth"])}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="corpus folder made by `irodori prepare all`")
    p.add_argument("--split", default="val")
    p.add_argument("--limit", type=int, default=60)
    p.add_argument("--model", default="demo")
    p.add_argument("--json")
    args = p.parse_args()
    col = Colorizer.from_pretrained(args.model)
    root = Path(args.data)
    out = {}
    print(f"{'source':<12}{'drawings':>9}{'truth':>8}{'real lines':>12}{'xdog lines':>12}")
    for sub in sorted(q for q in root.iterdir() if (q / "manifest.json").is_file()):
        r = out[sub.name] = probe_source(col, sub, args.split, args.limit)
        fmt = lambda v: f"{v:.3f}" if v is not None else "-"  # noqa: E731
        print(f"{sub.name:<12}{r['drawings']:>9}{fmt(r['truth']):>8}{fmt(r['real_lines']):>12}"
              f"{fmt(r['xdog_lines']):>12}")
    if args.json:
        Path(args.json).write_text(json.dumps({"model": args.model, "split": args.split, **out}, indent=1))


if __name__ == "__main__":
    main()
