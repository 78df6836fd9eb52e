"""``irodori prepare DATASET``: turn a public source into the directory a dataset class reads."""

from __future__ import annotations

from irodori.config import whole_number
from irodori.errors import PrepareError


def add_parser(sub) -> None:
    p = sub.add_parser("prepare", help="download/convert a dataset into the layout training reads",
                       description="Prepare a dataset directory. Subcommands: openmoji, lineart, and the "
                                   "illustration corpus: openclipart, dicebear, wesnoth, naev, all.")
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
    om.add_argument("--size", type=whole_number, default=256, help="square render size in pixels (default 256)")
    om.add_argument("--source", default=None,
                    help="openmoji package .tgz or unpacked directory instead of running npm pack")
    om.add_argument("--workers", type=whole_number, default=None,
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
    la.add_argument("--size", type=whole_number, default=None,
                    help="resize each image so its shorter side is SIZE before extraction (default: keep)")
    la.add_argument("--weights", default=None, help="converted weights file (default: $IRODORI_SKETCHKERAS / "
                                                    "$IRODORI_SIMPLIFICATION, then the cache dir)")
    la.add_argument("--device", default="auto", help="auto (cuda:LOCAL_RANK when available, else cpu), cpu, cuda:N")
    la.add_argument("--threads", type=whole_number, default=1, help="torch threads per process (default 1)")
    la.add_argument("--quiet", action="store_true", help="no progress bar")
    la.set_defaults(prepare_run=_run_lineart)
    _add_corpus_parsers(psub)


CORPUS_HELP = {
    "openclipart": "OpenClipart illustrations (public domain, Debian openclipart-svg) as exact line art pairs",
    "dicebear": "DiceBear avatars (CC BY 4.0 / CC0 per style, npm @dicebear/*) composed into pairs (needs node)",
    "wesnoth": "Battle for Wesnoth portraits (GPL-2+, Debian wesnoth-1.16-data + campaigns), colour only",
    "naev": "Naev portraits (GPL-3+, Debian naev-data), colour only",
    "all": "every corpus source plus OpenMoji, then drop near-duplicates and write OUT/corpus.json",
}


def _add_corpus_parsers(psub) -> None:
    for name, text in CORPUS_HELP.items():
        p = psub.add_parser(
            name, help=text,
            description=f"{text}. Writes OUT/<source>/color/NAME.png (RGB on white, long side SIZE, square), "
                        "OUT/<source>/black/NAME.png for line-art pairs, OUT/<source>/manifest.json (split, group, "
                        "origin, licence, attribution per file) and OUT/<source>/ATTRIBUTION.md. Splits by "
                        "hash_split of the group (variants share a split). Re-running skips finished files; "
                        "writes are atomic. Without --source, fetches with apt-get download / npm pack.")
        p.add_argument("--out", required=True, help="corpus directory (each source gets a subfolder)")
        p.add_argument("--source", default=None,
                       help="an unpacked package folder or its .deb/.tgz (dicebear: a folder of the @dicebear "
                            "package .tgz files; all: a folder with optional subfolders named after the sources)")
        p.add_argument("--size", type=whole_number, default=256, help="long side in pixels (default 256)")
        p.add_argument("--limit", type=whole_number, default=None,
                       help="at most N images per source (dicebear: N images, default 2000)")
        p.add_argument("--workers", type=whole_number, default=1, help="rendering processes (default 1)")
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        p.set_defaults(prepare_run=_run_corpus, corpus_source=name)


def _print_result(r) -> None:
    counts = " ".join(f"{k}={v}" for k, v in r.manifest["counts"].items())
    print(f"{r.name}: {counts} (new {r.written}, already done {r.skipped}, rejected/failed {r.rejected}, "
          f"{r.seconds:.1f} s)")


def _run_corpus(args) -> int:
    from irodori.data.sources import prepare_all, prepare_source

    if args.size < 16:
        raise PrepareError(f"--size must be at least 16 pixels, got {args.size}")
    if args.limit is not None and args.limit < 1:
        raise PrepareError(f"--limit must be >= 1, got {args.limit}")
    opts = dict(size=args.size, workers=max(1, args.workers), progress=not args.quiet)
    if args.corpus_source != "all":
        _print_result(prepare_source(args.corpus_source, args.out, source=args.source, limit=args.limit, **opts))
        return 0
    limits = {n: args.limit for n in ("openclipart", "dicebear", "wesnoth", "naev")} if args.limit else None
    summary = prepare_all(args.out, source=args.source, limits=limits, on_done=_print_result, **opts)
    total = " ".join(f"{k}={v}" for k, v in summary["total"].items())
    print(f"corpus {args.out}: {total}; near-duplicates dropped: {len(summary['near_duplicates']['dropped'])}")
    return 0


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
    from irodori.data.prepare_lineart import prepare_lineart

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
