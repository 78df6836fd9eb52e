"""``irodori prepare DATASET``: turn a public source into the directory a dataset class reads."""

from __future__ import annotations

def add_parser(sub) -> None:
    p = sub.add_parser("prepare", help="download/convert a dataset into the layout training reads",
                       description="Prepare a dataset directory. Subcommands: openmoji.")
    psub = p.add_subparsers(dest="dataset", metavar="DATASET")
    psub.required = True

    om = psub.add_parser(
        "openmoji", help="rasterize OpenMoji 17 (CC BY-SA 4.0) into line art / color pairs",
        description="Rasterize OpenMoji's color/svg and black/svg drawings onto white at SIZE px, into "
                    "OUT/color/HEXCODE.png and OUT/black/HEXCODE.png, with OUT/manifest.json (split per file, "
                    "counts) and OUT/ATTRIBUTION.md. Drops the flags, component and extras-unicode groups. "
                    "Splits by drawing: group = skintone_base_hexcode or hexcode; int(sha1(group)[:8], 16) % 10 "
                    "is 0 -> test, 1 -> val, else train. Re-running skips finished files; writes are atomic. "
                    "Without --source, runs `npm pack openmoji@17.0.0` (needs npm and the npm registry).")
    om.add_argument("--out", required=True, help="output directory (created if missing)")
    om.add_argument("--size", type=int, default=256, help="square render size in pixels (default 256)")
    om.add_argument("--source", default=None,
                    help="openmoji package .tgz or unpacked directory instead of running npm pack")
    om.add_argument("--workers", type=int, default=None,
                    help="rendering processes (default: all CPU cores)")
    om.add_argument("--quiet", action="store_true", help="no progress bar")
    om.set_defaults(prepare_run=_run_openmoji)


def _run_openmoji(args) -> int:
    from irodori.data.openmoji import prepare_openmoji

    result = prepare_openmoji(args.out, size=args.size, source=args.source, workers=args.workers,
                              progress=not args.quiet)
    m = result.manifest
    counts = " ".join(f"{k}={v}" for k, v in m["counts"].items())
    print(f"{m['source']} -> {args.out}: {counts} (rendered {result.rendered}, already done {result.skipped}, "
          f"{result.seconds:.1f} s)")
    if m["failed"]:
        print(f"warning: {len(m['failed'])} emoji failed to render and are left out: "
              + ", ".join(list(m["failed"])[:10]))
    if m["missing_svg"]:
        print(f"note: {len(m['missing_svg'])} index entries have no SVG and are left out")
    return 0


def run(args) -> int:
    return args.prepare_run(args)
