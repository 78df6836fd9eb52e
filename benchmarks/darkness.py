"""Where do the model's dark no-hint guesses come from? One run, one model, the same drawings.

For every drawing of a corpus split that has real line art (``black/``), the network alone colorizes it
with no hints twice: once from its real line art and once from XDoG line art of its colour image (the
fixed evaluation XDoG, the style every painting is trained with). It prints the figure's mean lightness
(CIELAB L*/100 over :func:`irodori.data.figure.figure_mask`) of both outputs beside the ground truth's.
If dense XDoG lines are a cue for dark painting, the XDoG column is the darker one on the same drawings.
Paintings (no ``black/``) are scored from their XDoG line art only. Denser lines darken the image by their ink
alone, so the model's own colors before the lines are multiplied in (``colors``) are scored too. Those differ
for a reason of their own: real line art draws dark hair as solid ink while XDoG leaves it for the model to
paint. So the last columns compare the model's colors only over the drawing's *light areas* (truth L* > 60,
off the ink of both line arts): there both inputs ask for the same light paint, and a darker XDoG column says
the style of the lines, not the drawing, made the model paint darker.

    python benchmarks/darkness.py --data data/corpus --split val --limit 60 [--model demo]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from irodori.data.lineart import luma, xdog
from irodori.data.figure import figure_mask
from irodori.eval.metrics import figure_lightness, srgb_to_lab
from irodori.eval.protocol import EVAL_XDOG, load_drawings
from irodori.colorize.hint_input import HintLayer
from irodori.colorize.pipeline import Colorizer


def no_hint_colors(col: Colorizer, line: np.ndarray) -> np.ndarray:
    return col.model_colors(line, HintLayer.empty(*line.shape))


def probe_source(col: Colorizer, root: Path, split: str, limit: int | None) -> dict:
    """Mean figure lightness per drawing of the truth and of the no-hint results (``*_lines``: the image with
    its lines; ``*_colors``: the model's colors alone), and over the *light areas* (truth L* > 60, off the
    ink of both line arts: where neither line art draws anything dark) of the model's colors (``light_*``)."""
    rows: dict[str, list] = {k: [] for k in ("truth", "real_lines", "xdog_lines", "real_colors", "xdog_colors",
                                             "light_truth", "light_real", "light_xdog")}
    for d in load_drawings(root, split, col.native_size, limit):
        figure = figure_mask(d.truth)
        rows["truth"].append(figure_lightness(d.truth, figure))
        grey, white = luma(d.truth)
        xdog_line = np.clip(xdog(grey, EVAL_XDOG, white), 0, 1)
        xdog_colors = no_hint_colors(col, xdog_line)
        rows["xdog_lines"].append(figure_lightness(xdog_colors * xdog_line[..., None], figure))
        rows["xdog_colors"].append(figure_lightness(xdog_colors, figure))
        if not (root / "black" / f"{d.name}.png").is_file():
            continue
        real_colors = no_hint_colors(col, d.line)
        rows["real_lines"].append(figure_lightness(real_colors * d.line[..., None], figure))
        rows["real_colors"].append(figure_lightness(real_colors, figure))
        light = figure & (d.line > 0.5) & (xdog_line > 0.5) & (srgb_to_lab(d.truth)[..., 0] > 60)
        if light.sum() >= 50:
            for key, image in (("light_truth", d.truth), ("light_real", real_colors), ("light_xdog", xdog_colors)):
                rows[key].append(figure_lightness(image, light))
    out = {k: (float(np.nanmean(v)) if v else None) for k, v in rows.items()} | {"drawings": len(rows["truth"])}
    out["light_xdog_darker"] = int(sum(x < r for x, r in zip(rows["light_xdog"], rows["light_real"])))
    out["light_drawings"] = len(rows["light_real"])
    return out


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
    print(f"{'source':<12}{'drawings':>9}{'truth':>8}{'real lines':>12}{'xdog lines':>12}{'real colors':>13}"
          f"{'xdog colors':>13}   light areas: truth  real  xdog  xdog darker")
    for sub in sorted(q for q in root.iterdir() if (q / "manifest.json").is_file()):
        r = out[sub.name] = probe_source(col, sub, args.split, args.limit)
        fmt = lambda v: f"{v:.3f}" if v is not None else "-"  # noqa: E731
        print(f"{sub.name:<12}{r['drawings']:>9}{fmt(r['truth']):>8}{fmt(r['real_lines']):>12}"
              f"{fmt(r['xdog_lines']):>12}{fmt(r['real_colors']):>13}{fmt(r['xdog_colors']):>13}"
              f"   {fmt(r['light_truth'])} {fmt(r['light_real'])} {fmt(r['light_xdog'])}"
              f"  {r['light_xdog_darker']}/{r['light_drawings']}")
    if args.json:
        Path(args.json).write_text(json.dumps({"model": args.model, "split": args.split, **out}, indent=1))


if __name__ == "__main__":
    main()
