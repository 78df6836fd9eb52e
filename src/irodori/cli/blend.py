"""``irodori blend``: a weighted average of two releases of one generator (a weight-space ensemble)."""

from __future__ import annotations

from irodori.errors import InputError


def add_parser(sub) -> None:
    p = sub.add_parser("blend", help="average two releases of one generator, weight by weight",
                       description="Write WEIGHT x FIRST + (1 - WEIGHT) x SECOND, tensor by tensor, as a float16 "
                                   "release (and its .json), with FIRST's config and lineage and a blend stage "
                                   "appended. For a stage that gained where it trained and lost elsewhere: "
                                   "blending it with the model it started from (robust fine-tuning, WiSE-FT) "
                                   "often keeps both; `irodori promote` decides on the result as on any release.")
    p.add_argument("first", metavar="FIRST.safetensors", help="release weights (`irodori export`), e.g. a new stage")
    p.add_argument("second", metavar="SECOND.safetensors", help="release weights of the same generator, e.g. the "
                                                                "model the stage started from")
    p.add_argument("--weight", type=float, required=True, help="FIRST's share, in [0, 1]")
    p.add_argument("--out", required=True, metavar="FILE.safetensors")


def run(args) -> int:
    from pathlib import Path

    from irodori.cli.export import release_out
    from irodori.release import blend_releases, config_path_for

    if not 0.0 <= args.weight <= 1.0:
        raise InputError(f"--weight must lie in [0, 1], got {args.weight}")
    out = release_out(args.out)
    for path in (args.first, args.second):
        for a, b in ((path, out), (config_path_for(Path(path)), config_path_for(out))):
            if Path(a).resolve() == Path(b).resolve():
                raise InputError(f"--out {args.out} would replace an input; choose another name")
    path = blend_releases(args.first, args.second, args.weight, out)
    print(f"wrote {path} and {path.with_suffix('.json')} ({args.weight:g} of {args.first}, "
          f"{1 - args.weight:g} of {args.second})")
    return 0
