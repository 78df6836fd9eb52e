"""``irodori table1``: the paper's Table 1 at small scale (train every compared model, evaluate all)."""

from __future__ import annotations

import argparse
from pathlib import Path

from irodori.config import whole_number


def add_parser(sub) -> None:
    p = sub.add_parser(
        "table1", help="train the Table 1 models on the same data and budget, then compare them",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Train (or resume) each row (irodori.experiments.table1.ROWS: pix2pixHD, AlacGAN-style, "
                    "ours without and with CSA at demo size) as an ordinary run in OUT/runs/PRESET"
                    " for STEPS steps on the prepared OpenMoji dir, then evaluate all with the same fixed hints "
                      "and write OUT/table1.md, OUT/table1.json and OUT/table1_grid.png. FID uses the nsfwjs "
                      "InceptionV3 features (`irodori convert-weights nsfwjs`); without them the FID column is n/a. "
                      "The last line is table1=<path to table1.md>.")
    p.add_argument("--data", required=True, help="directory made by `irodori prepare openmoji`")
    p.add_argument("--steps", type=whole_number, required=True, help="training steps per model (the shared budget)")
    p.add_argument("--out", required=True, help="output directory (runs/ and the table)")
    p.add_argument("--size", type=whole_number, default=128, help="training and evaluation size")
    p.add_argument("--num-hints", type=whole_number, default=8)
    p.add_argument("--hints-seed", type=whole_number, default=0)
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--limit", type=whole_number, help="evaluate only the first N images")
    p.add_argument("--fid-extractor", default="inception-nsfwjs",
                   help="inception-nsfwjs, inception-pytorch-fid or auto")
    p.add_argument("--grid-images", type=whole_number, default=4)
    p.add_argument("--train-only", action="store_true", help="train (resume) the rows, skip the evaluation")
    p.add_argument("--preset-overrides", nargs="*", default=[], metavar="KEY=VALUE",
                   help="config overrides applied to every row (e.g. smaller widths for a smoke test)")


def run(args) -> int:
    from irodori.errors import ConfigError
    from irodori.experiments.table1 import run_table1

    if args.steps < 1:
        raise ConfigError("--steps must be >= 1")
    run_table1(args.data, args.steps, args.out, size=args.size, num_hints=args.num_hints, hints_seed=args.hints_seed,
               split=args.split, limit=args.limit, preset_overrides=args.preset_overrides,
               fid_extractor=args.fid_extractor, grid_images=args.grid_images, train_only=args.train_only)
    if args.train_only:
        print(f"trained={Path(args.out) / 'runs'}")
    else:
        print((Path(args.out) / "table1.md").read_text())
        print(f"table1={Path(args.out) / 'table1.md'}")
    return 0
