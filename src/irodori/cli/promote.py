"""``irodori promote``: the promotion gate between a training run and the bundled model."""

from __future__ import annotations

import argparse

from irodori.config import whole_number

#: Exit status when the gate refuses the candidate (the command itself worked).
REFUSED = 1


def add_parser(sub) -> None:
    p = sub.add_parser(
        "promote", help="export a run's EMA weights and replace the bundled model if they pass the gate",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Export RUN_DIR's newest EMA generator (fp16, its lineage extended by the run's stage), "
                    "evaluate it and the bundled model on every corpus source's validation split with the Hint-AUC "
                    "protocol (default pipeline and network alone, in one run, on the same drawings), and replace "
                    "the bundled weights, their JSON and the model card only when no source's default score falls "
                    "by more than 0.1 dB and the network alone's mean rises. Exit 0 promoted (or --dry-run), 1 "
                    "refused, 2 on bad input. The last line is promoted=<yes|no|dry-run> gain_model=<dB>.")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--data", default="data/corpus", help="the corpus folder (`irodori prepare all --out DIR`)")
    p.add_argument("--split", default="val", choices=("val", "test"),
                   help="the gate decides on val; test only reports (implies --dry-run)")
    p.add_argument("--limit", type=whole_number, help="only the first N drawings of each source's split")
    p.add_argument("--sources", help="comma-separated sources (default: every source in --data)")
    p.add_argument("--baseline", default="demo",
                   help="the model to beat, replaced when the candidate passes: bundled name or .safetensors")
    p.add_argument("--size", type=whole_number, default=256, help="evaluation size (px)")
    p.add_argument("--dry-run", action="store_true", help="evaluate and decide, write nothing")
    p.add_argument("--json", metavar="FILE", help="also write the evaluation and the decision as JSON")


def run(args) -> int:
    import json
    import sys
    import tempfile
    from pathlib import Path

    from irodori.atomic import atomic_write_files, atomic_write_text
    from irodori.errors import InputError
    from irodori.eval.card import render_card
    from irodori.eval.gate import corpus_sources, decide, evaluate_models, format_table
    from irodori.eval.protocol import require_hintauc
    from irodori.pipeline import ASSET_DIR, BUNDLED, Colorizer
    from irodori.release import config_path_for, export_release

    require_hintauc()
    if args.limit is not None and args.limit < 1:
        raise InputError(f"--limit must be >= 1, got {args.limit}")
    sources = corpus_sources(args.data)
    if args.sources:
        asked = [s.strip() for s in args.sources.split(",") if s.strip()]
        unknown = sorted(set(asked) - set(sources))
        if unknown or not asked:
            raise InputError(f"--sources: {', '.join(unknown) or 'none given'} not in {args.data} ({', '.join(sources)})")
        sources = asked
    dry = args.dry_run or args.split != "val"
    base = Colorizer.from_pretrained(args.baseline)
    with tempfile.TemporaryDirectory() as tmp:
        cand_path, step = export_release(args.run_dir, Path(tmp) / "candidate.safetensors", fp16=True,
                                         native_size=base.native_size)
        cand = Colorizer.from_pretrained(str(cand_path))
        results = evaluate_models({"candidate": cand, "bundled": base}, args.data, args.split, args.size,
                                  args.limit, sources,
                                  progress=lambda s, i: print(f"\r{s}: {i + 1}", end="", file=sys.stderr))
        print(file=sys.stderr)
        for row in format_table(results, ["candidate", "bundled"]):
            print(row)
        ok, notes, gain = decide(results, "candidate", "bundled")
        for n in notes:
            print(f"  {n}")
        command = _command(args)
        if args.json:
            atomic_write_text(Path(args.json), json.dumps({"step": step, "promoted": ok and not dry, "notes": notes,
                                                           "split": args.split, "results": results}, indent=1))
        if ok and not dry:
            target = ASSET_DIR / BUNDLED["demo"] if args.baseline == "demo" else Path(args.baseline)
            meta = json.loads(config_path_for(cand_path).read_text())
            card = render_card(meta, results, {"candidate": "promoted", "bundled": "replaced"}, notes, command,
                               args.split)
            files = [(target, cand_path.read_bytes()),
                     (config_path_for(target), config_path_for(cand_path).read_bytes())]
            if args.baseline == "demo":
                files.append((target.with_suffix(".md"), card.encode()))
            atomic_write_files(files)
            print(f"wrote {', '.join(str(p) for p, _ in files)}")
    print(f"promoted={'dry-run' if dry else 'yes' if ok else 'no'} step={step} gain_model={gain:+.3f}")
    return 0 if ok or dry else REFUSED


def _command(args) -> str:
    """The command as the card records it: the run as RUN, every option as given (not read from sys.argv,
    which is not this command's when it is called as a function)."""
    import shlex

    opts = {"--data": args.data, "--split": args.split, "--limit": args.limit, "--sources": args.sources,
            "--baseline": args.baseline, "--size": args.size}
    parts = ["irodori promote RUN", *(f"{k} {shlex.quote(str(v))}" for k, v in opts.items() if v is not None)]
    return " ".join(parts + (["--dry-run"] if args.dry_run else []))
