"""``irodori export``: release weights (EMA generator) from a run directory."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="write release weights (EMA generator) from a run directory",
                       description="Write the EMA generator of RUN_DIR's newest checkpoint as safetensors, "
                                   "and its config as JSON next to it (same name, .json).")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--out", required=True, metavar="FILE.safetensors")
    precision = p.add_mutually_exclusive_group()
    precision.add_argument("--fp16", action="store_true", help="store weights in float16 (half the size)")
    precision.add_argument("--int8", action="store_true",
                           help="store weights at 8 bits with a scale per output channel (a quarter of the size; "
                                "a transport format, e.g. back from a GPU machine; loads as float32)")


def run(args) -> int:
    from irodori.release import export_release

    path, step = export_release(args.run_dir, args.out, args.fp16, args.int8)
    print(f"wrote {path} and {path.with_suffix('.json')} (EMA generator at step {step})")
    return 0
