"""``irodori export``: release weights (EMA generator) from a run directory."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="write release weights (EMA generator) from a run directory",
                       description="Write the EMA generator of RUN_DIR's newest checkpoint as safetensors, "
                                   "and its config as JSON next to it (same name, .json).")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--out", required=True, metavar="FILE.safetensors")
    p.add_argument("--fp16", action="store_true", help="store weights in float16 (half the size)")
    p.add_argument("--native-size", type=int, metavar="PX",
                   help="the working long side colorizing uses by default (default: the run's data.size; give "
                        "the drawings' size for a stage trained on crops of them)")


def run(args) -> int:
    from irodori.release import export_release

    from irodori.config import RESOLUTION_RANGE
    from irodori.errors import InputError

    if args.native_size is not None and not RESOLUTION_RANGE[0] <= args.native_size <= RESOLUTION_RANGE[1]:
        raise InputError(f"--native-size must lie in {RESOLUTION_RANGE[0]}..{RESOLUTION_RANGE[1]}, got {args.native_size}")
    path, step = export_release(args.run_dir, args.out, args.fp16, args.native_size)
    print(f"wrote {path} and {path.with_suffix('.json')} (EMA generator at step {step})")
    return 0
