"""``irodori prepare DATASET``: turn a public source into the directory a dataset class reads."""

from __future__ import annotations

def add_parser(sub) -> None:
    p = sub.add_parser("prepare", help="download/convert a dataset into the layout training reads",
                       description="Prepare a dataset directory. Subcommands: openmoji, lineart.")
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

    la = psub.add_parser(
        "lineart", help="precompute line art for a dataset with one extraction method (sharded under torchrun)",
        description="Run one line extraction method over a dataset and write 8-bit greyscale PNGs (white paper). "
                    "An OpenMoji directory (DATA/color/*.png) gets DATA/lineart-METHOD/NAME.png; any other image "
                    "folder is mirrored into OUT (default DATA-lineart-METHOD next to it). Under torchrun each "
                    "rank takes every WORLD_SIZE-th file (RANK/WORLD_SIZE env vars). Re-running skips finished "
                    "files; writes are atomic. sketchkeras and simplification need their converted weights "
                    "(`irodori convert-weights sketchkeras mod.h5`, `... simplification model_gan.pth`).")
    la.add_argument("--data", required=True, help="dataset directory (OpenMoji layout or a folder of images)")
    la.add_argument("--method", required=True, choices=["sketchkeras", "simplification", "xdog", "morph"],
                    help="extraction method")
    la.add_argument("--out", default=None, help="output directory (default: see above)")
    la.add_argument("--size", type=int, default=None,
                    help="resize each image so its shorter side is SIZE before extraction (default: keep)")
    la.add_argument("--weights", default=None, help="converted weights file (default: $IRODORI_SKETCHKERAS / "
                                                    "$IRODORI_SIMPLIFICATION, then the cache dir)")
    la.add_argument("--device", default="auto", help="auto (cuda:LOCAL_RANK when available, else cpu), cpu, cuda:N")
    la.add_argument("--threads", type=int, default=1, help="torch threads per process (default 1)")
    la.add_argument("--quiet", action="store_true", help="no progress bar")
    la.set_defaults(prepare_run=_run_lineart)


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


def _run_lineart(args) -> int:
    from irodori.extractors.prepare import prepare_lineart

    r = prepare_lineart(args.data, args.method, args.out, size=args.size, weights=args.weights, device=args.device,
                        threads=args.threads, progress=not args.quiet)
    shard = f" (rank {r.rank} of {r.world_size})" if r.world_size > 1 else ""
    print(f"{args.method}: {args.data} -> {r.out}{shard}: wrote {r.written}, already done {r.skipped} "
          f"({r.seconds:.1f} s)")
    if r.failed:
        print(f"warning: {len(r.failed)} images could not be read and are left out: " + ", ".join(list(r.failed)[:10]))
    return 0


def run(args) -> int:
    return args.prepare_run(args)
