"""``irodori table1``: the paper's Table 1 at small scale (train every compared model, evaluate all)."""

from __future__ import annotations

import argparse
from pathlib import Path

from irodori.config import whole_number


def add_parser(sub) -> None:
    p = sub.add_parser(
        "table1", help="train the Table 1 models on the same data and budget, then compare them",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="--rows demo (the first table): train (or resume) each row (irodori.experiments.table1.ROWS: "
                    "pix2pixHD, AlacGAN-style, ours without and with CSA at demo size) as an ordinary run in "
                    "OUT/runs/PRESET for STEPS steps on the prepared OpenMoji dir, then evaluate all with the same "
                    "fixed hints and write OUT/table1.md, OUT/table1.json and OUT/table1_grid.png. FID uses the "
                    "nsfwjs InceptionV3 features (`irodori convert-weights nsfwjs`); without them the FID column is "
                    "n/a. --rows demo-256 (the corpus, irodori.experiments.table1_corpus): train the rows in "
                    "lockstep on --data (`irodori train-group`; or take them from --models, e.g. what came back "
                    "from a GPU machine), then score them with the Hint-AUC protocol (default pipeline and network "
                    "alone) and FID on --eval-data's split, and write OUT/table1.md, OUT/table1.json and "
                    "OUT/table1_curves.png. The last line is table1=<path to table1.md>.")
    p.add_argument("--rows", choices=("demo", "demo-256"), default="demo", help="which table")
    p.add_argument("--data", help="training data: `irodori prepare openmoji` (demo) or the corpus or its pack "
                                  "(demo-256)")
    p.add_argument("--steps", type=whole_number, help="training steps per model (the shared budget)")
    p.add_argument("--out", required=True, help="output directory (runs/ and the table)")
    p.add_argument("--models", help="demo-256: evaluate PRESET.safetensors or PRESET/ run dirs found here; no training")
    p.add_argument("--eval-data", help="demo-256: the corpus to evaluate on (default: --data)")
    p.add_argument("--size", type=whole_number, help="training and evaluation size (default: 128 demo, 256 demo-256)")
    p.add_argument("--num-hints", type=whole_number, default=8)
    p.add_argument("--hints-seed", type=whole_number, default=0)
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--limit", type=whole_number, help="evaluate only the first N images (demo-256: of each source)")
    p.add_argument("--fid-extractor", default="inception-nsfwjs",
                   help="inception-nsfwjs, inception-pytorch-fid or auto")
    p.add_argument("--grid-images", type=whole_number, default=4)
    p.add_argument("--train-only", action="store_true", help="train (resume) the rows, skip the evaluation")
    p.add_argument("--time-limit", type=float, help="demo-256: stop every row's training at the same step after "
                                                    "SECONDS")
    p.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto", help="demo-256: training device")
    p.add_argument("--preset-overrides", nargs="*", default=[], metavar="KEY=VALUE",
                   help="config overrides applied to every row (e.g. smaller widths for a smoke test)")


def run(args) -> int:
    from irodori.errors import ConfigError

    if args.rows == "demo-256":
        return _run_corpus(args)
    from irodori.experiments.table1 import run_table1

    if args.data is None or args.steps is None or args.steps < 1:
        raise ConfigError("--rows demo needs --data and --steps >= 1")
    run_table1(args.data, args.steps, args.out, size=args.size or 128, num_hints=args.num_hints,
               hints_seed=args.hints_seed, split=args.split, limit=args.limit,
               preset_overrides=args.preset_overrides, fid_extractor=args.fid_extractor,
               grid_images=args.grid_images, train_only=args.train_only)
    return _report(args)


def _run_corpus(args) -> int:
    from irodori.config import load_config
    from irodori.errors import ConfigError
    from irodori.experiments.table1_corpus import ROWS_256, evaluate_rows
    from irodori.train.group import Member, train_group

    size = args.size or 256
    models = Path(args.models) if args.models else Path(args.out) / "runs"
    if not args.models:
        if args.data is None or args.steps is None or args.steps < 1:
            raise ConfigError("--rows demo-256 trains with --data and --steps >= 1, or evaluates --models")
        overrides = [f"data.root={args.data}", f"data.size={size}", f"train.steps={args.steps}",
                     *args.preset_overrides]
        members = [Member(preset, load_config(preset, overrides)) for _, preset in ROWS_256]
        result = train_group(members, models, time_limit=args.time_limit, device=args.device)
        if result.get("interrupted"):
            raise ConfigError(f"training was interrupted at step {result['step']}; rerun to resume")
    if args.train_only:
        return _report(args)
    eval_data = args.eval_data or args.data
    if eval_data is None:
        raise ConfigError("--rows demo-256 evaluates on --eval-data (or --data)")
    evaluate_rows(models, Path(eval_data), Path(args.out), split=args.split, size=size, limit=args.limit,
                  fid_extractor=args.fid_extractor)
    return _report(args)


def _report(args) -> int:
    if args.train_only:
        print(f"trained={Path(args.out) / 'runs'}")
    else:
        print((Path(args.out) / "table1.md").read_text())
        print(f"table1={Path(args.out) / 'table1.md'}")
    return 0
