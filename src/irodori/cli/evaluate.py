"""``irodori evaluate``: held-out metrics with fixed, seeded hints."""

from __future__ import annotations

import argparse
import json
import os
import stat
import time
from pathlib import Path

from irodori.config import whole_number

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
    p.add_argument("--hints-seed", type=whole_number, default=0)
    p.add_argument("--num-hints", type=whole_number, default=8)
    p.add_argument("--size", type=whole_number, help="evaluation size (default: the model's training size)")
    p.add_argument("--metrics", default=DEFAULT_METRICS,
                   help="comma-separated names: psnr, ssim, hint_de, bleeding, fid")
    p.add_argument("--fid-extractor", default="auto",
                   help="FID features: inception-pytorch-fid (the standard network), inception-nsfwjs, or auto "
                        "(the first whose weights are on disk, standard first)")
    p.add_argument("--limit", type=whole_number, help="only the first N images (quick checks)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument("--protocol", choices=("seeded", "hintauc"), default="seeded",
                   help="seeded: the paper-style patch hints above. hintauc: the public Hint-AUC protocol "
                        "(region scribbles or dots at 8 hint ratios; PSNR/SSIM curves and their AUC, with a "
                        "paint bucket and hintauc's oracle region fill as references in the same run) plus "
                        "region_fill and bleed on one dot per large closed region; needs the eval extra. "
                        "Runs through the same pipeline as users (regions, flats); last line "
                        "hint_auc_psnr=... hint_auc_ssim=... region_fill=... bleed=...")
    p.add_argument("--hint-type", choices=("scribble", "dot"), default="scribble", help="hintauc hint type")
    p.add_argument("--flats", default="regions",
                   help="hintauc: the pipeline's flats mode(s) to score, comma-separated from regions, "
                        "hints-only, model (the first is the one on the last line)")
    p.add_argument("--shading", default=None,
                   help="hintauc: shading strength(s) in [0, 1] for the regions/hints-only modes, comma-separated "
                        "(default: the pipeline's); each mode x strength is scored as model/MODE@STRENGTH")
    p.add_argument("--plot", metavar="PNG", help="hintauc: write the per-ratio curves of every method here")
    p.add_argument("--resolution", type=whole_number, metavar="PX",
                   help="hintauc: the working long side the model runs at (default: the model's native size, not colorize's working size)")


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


def _check_data(data: str) -> None:
    """``--data`` names a folder (a file, a FIFO or nothing is refused before the model is loaded)."""
    from irodori.errors import InputError
    from irodori.userfiles import kind, name_problem, shown

    problem = name_problem(data) if data else "it is empty"
    if problem:
        raise InputError(f"--data {shown(data)}: {problem}")
    try:
        mode = os.stat(data).st_mode
    except OSError as exc:
        raise InputError(f"--data {shown(data)}: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(mode):
        raise InputError(f"--data {shown(data)} is {kind(mode)}; give the folder `irodori prepare` made")


def run(args) -> int:
    _check_data(args.data)
    if args.protocol == "hintauc":
        return _run_hintauc(args)
    from irodori.eval.evaluate import check_metrics, dataset_key, evaluate, load_openmoji_split
    from irodori.colorize.pipeline import Colorizer
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


def _shadings(text: str | None) -> list[float]:
    from irodori.errors import InputError
    from irodori.colorize.flats import DEFAULT_SHADING

    if text is None:
        return [DEFAULT_SHADING]
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"--shading takes numbers in [0, 1], got {text!r}") from None
    if not values or any(not 0 <= v <= 1 for v in values):
        raise InputError(f"--shading takes numbers in [0, 1], got {text!r}")
    return values


def _run_hintauc(args) -> int:
    import sys

    from irodori.atomic import atomic_path, atomic_write_text
    from irodori.errors import InputError
    from irodori.eval.adapter import colorizer_methods
    from irodori.eval.protocol import evaluate_protocol, load_drawings, paint_bucket, plot_curves, require_hintauc
    from irodori.colorize.flats import FLATS_MODES
    from irodori.colorize.pipeline import Colorizer

    t0 = time.perf_counter()
    require_hintauc()
    modes = [m.strip() for m in args.flats.split(",") if m.strip()]
    if not modes or any(m not in FLATS_MODES for m in modes):
        raise InputError(f"--flats takes modes from {', '.join(FLATS_MODES)}, got {args.flats!r}")
    col = Colorizer.from_pretrained(args.model)
    size = args.size or 256
    drawings = load_drawings(args.data, args.split, size, args.limit)
    methods = colorizer_methods(col, modes, _shadings(args.shading), resolution=args.resolution)
    methods["paint-bucket"] = paint_bucket
    from tqdm import tqdm
    bar = tqdm(total=len(drawings), unit="drawing", file=sys.stderr, disable=None)
    res = evaluate_protocol(drawings, methods, args.hint_type, progress=lambda i: bar.update(1))
    bar.close()
    res.update(model=str(args.model), data=Path(args.data).name, split=args.split, size=size,
               step=col.meta.get("step"), seconds=time.perf_counter() - t0)
    print(f"{'method':<22}{'AUC psnr':>10}{'AUC ssim':>10}{'region_fill':>13}{'bleed':>8}  psnr per ratio "
          + " ".join(f"{100 * a:g}%" for a in res["alphas"]))
    for name, e in res["methods"].items():
        curve = " ".join(f"{e['per_alpha'][a]['psnr']:.2f}" for a in res["alphas"])
        print(f"{name:<22}{e['hint_auc']['psnr']:>10.3f}{e['hint_auc']['ssim']:>10.4f}"
              f"{e.get('region_fill', float('nan')):>13.3f}{e.get('bleed', float('nan')):>8.3f}  {curve}")
    print(f"{res['images']} drawings of {args.data} ({args.split}) at {size} px, {args.hint_type} hints, "
          f"hintauc {res['hintauc']} (geodesic paths, stable ties); {res['seconds']:.1f} s")
    if args.plot:
        with atomic_path(Path(args.plot), suffix=".png") as tmp:
            plot_curves(res, tmp)
    if args.json:
        atomic_write_text(Path(args.json), json.dumps(res, indent=1))
    main = res["methods"][next(iter(methods))]
    print(f"hint_auc_psnr={main['hint_auc']['psnr']:.3f} hint_auc_ssim={main['hint_auc']['ssim']:.4f} "
          f"region_fill={main['region_fill']:.3f} bleed={main['bleed']:.3f}")
    return 0
