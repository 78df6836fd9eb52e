"""``irodori evaluate``: held-out metrics with fixed, seeded hints."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate", help="measure a model on a prepared dataset's test split with fixed hints",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Run the model over a prepared OpenMoji split at the model's scale, every image with the "
                    "same seeded hints (NUM_HINTS paper-style patches), and once without hints. Prints a table; "
                    "the last line is psnr_hints=<float> psnr_nohints=<float> hint_de=<float>. hint_de is the "
                    "mean CIE76 ΔE between output and hint color at hinted pixels off the lines.")
    p.add_argument("--model", default="demo", help="bundled model name, .safetensors file or run directory")
    p.add_argument("--data", required=True, help="directory made by `irodori prepare openmoji`")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--hints-seed", type=int, default=0)
    p.add_argument("--num-hints", type=int, default=8)
    p.add_argument("--size", type=int, help="evaluation size (default: the model's training size)")
    p.add_argument("--metrics", default="psnr,ssim,hint_de", help="comma-separated metric names")
    p.add_argument("--limit", type=int, help="only the first N images (quick checks)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")


def run(args) -> int:
    from irodori.eval.evaluate import evaluate, load_openmoji_split
    from irodori.pipeline import Colorizer
    from irodori.train.checkpoint import atomic_write_text

    col = Colorizer.from_pretrained(args.model)
    size = args.size or col.native_size
    items = load_openmoji_split(args.data, args.split, size, args.hints_seed, args.num_hints, limit=args.limit)
    metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
    res = evaluate(col.generator, items, metrics)
    res.update(model=str(args.model), split=args.split, size=size, hints_seed=args.hints_seed,
               num_hints=args.num_hints)
    print(f"{'metric':<14}{'value':>10}")
    for k in (*metrics, "psnr_nohints"):
        print(f"{k:<14}{res[k]:>10.3f}")
    print(f"{'images':<14}{res['images']:>10d}")
    if args.json:
        atomic_write_text(Path(args.json), json.dumps(res, indent=1))
    print(f"psnr_hints={res['psnr']:.3f} psnr_nohints={res['psnr_nohints']:.3f} hint_de={res.get('hint_de', float('nan')):.3f}")
    return 0
