"""``irodori evaluate``: held-out metrics with fixed, seeded hints."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

DEFAULT_METRICS = "psnr,ssim,hint_de,bleeding"


def add_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate", help="measure a model on a prepared dataset's test split with fixed hints",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Run the model over a prepared OpenMoji split at the model's scale, every image with the "
                    "same seeded hints (NUM_HINTS paper-style patches), and once without hints. Prints a table; "
                    "the last line is psnr_hints=<float> psnr_nohints=<float> hint_de=<float>. hint_de is the "
                    "mean CIE76 ΔE between output and hint color at hinted pixels off the lines; bleeding the "
                    "mean ΔE to the ground truth in thin bands on both sides of the lines around hinted regions; "
                    "fid the Fréchet distance between InceptionV3 features of the outputs and of the ground "
                    "truths (a set-level metric; real statistics cached per dataset).")
    p.add_argument("--model", default="demo", help="bundled model name, .safetensors file or run directory")
    p.add_argument("--data", required=True, help="directory made by `irodori prepare openmoji`")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--hints-seed", type=int, default=0)
    p.add_argument("--num-hints", type=int, default=8)
    p.add_argument("--size", type=int, help="evaluation size (default: the model's training size)")
    p.add_argument("--metrics", default=DEFAULT_METRICS,
                   help="comma-separated names: psnr, ssim, hint_de, bleeding, fid")
    p.add_argument("--fid-extractor", default="auto",
                   help="FID features: inception-pytorch-fid (the standard network), inception-nsfwjs, or auto "
                        "(the first whose weights are on disk, standard first)")
    p.add_argument("--limit", type=int, help="only the first N images (quick checks)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")


def format_results(res: dict, metrics) -> list[str]:
    """The printed table: one row per metric, then psnr_nohints and the image count."""
    rows = [f"{'metric':<14}{'value':>10}"]
    for k in (*[m for m in metrics if m != "fid"], "psnr_nohints"):
        rows.append(f"{k:<14}{res[k]:>10.3f}")
        if k == "hint_de" and "hint_de_truth" in res:
            rows.append(f"{'hint_de_truth':<14}{res['hint_de_truth']:>10.3f}  the ground truth's own hint_de "
                        "(patches straddling lines ask for blends): a perfect colorization's score")
    if "fid" in res:
        rows.append(f"{'fid':<14}{res['fid']:>10.3f}  {res['fid_label']} [{res['fid_extractor']}; "
                    f"real statistics {res['fid_real_stats']}]")
    rows.append(f"{'images':<14}{res['images']:>10d}")
    return rows


def run(args) -> int:
    from irodori.eval.evaluate import check_metrics, dataset_key, evaluate, load_openmoji_split
    from irodori.pipeline import Colorizer
    from irodori.atomic import atomic_write_text

    t0 = time.perf_counter()
    metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
    check_metrics(metrics)
    fid = None
    if "fid" in metrics:  # fail on missing weights before running anything
        from irodori.eval.fid import FID
        fid = FID(args.fid_extractor)
    col = Colorizer.from_pretrained(args.model)
    size = args.size or col.native_size
    items = load_openmoji_split(args.data, args.split, size, args.hints_seed, args.num_hints, limit=args.limit)
    key = dataset_key(args.data, args.split, size, args.limit) if fid is not None else None
    res = evaluate(col.generator, items, metrics, fid=fid, real_key=key)
    res.update(model=str(args.model), split=args.split, size=size, hints_seed=args.hints_seed,
               num_hints=args.num_hints, checkpoint=col.meta.get("source", ""), step=col.meta.get("step"),
               seconds=time.perf_counter() - t0)
    for row in format_results(res, metrics):
        print(row)
    print(f"{'seconds':<14}{res['seconds']:>10.1f}")
    if args.json:
        atomic_write_text(Path(args.json), json.dumps(res, indent=1))
    print(f"psnr_hints={res.get('psnr', float('nan')):.3f} psnr_nohints={res['psnr_nohints']:.3f} "
          f"hint_de={res.get('hint_de', float('nan')):.3f}")
    return 0
