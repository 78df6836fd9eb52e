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
        description="Export each RUN's newest EMA generator (fp16, its lineage extended by the run's stage), "
                    "evaluate them and the bundled model on every corpus source's validation split with the Hint-AUC "
                    "protocol (default pipeline and network alone, in one run, on the same drawings), and replace "
                    "the bundled weights, their JSON and the model card only when no source's default score falls "
                    "by more than 0.1 dB and the network alone's mean rises; of several passing candidates, the one "
                    "whose network alone rises most. Exit 0 promoted (or --dry-run), 1 refused, 2 on bad input. "
                    "The last line is promoted=<yes|no|dry-run> step=<N> gain_model=<dB> (and chosen=<RUN> when "
                    "several were given).")
    p.add_argument("runs", nargs="+", metavar="RUN",
                   help="a training run, or release weights (.safetensors, 8-bit too) such as a GPU call's")
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

    from irodori.atomic import atomic_write_text
    from irodori.eval.gate import decide, evaluate_models, format_table
    from irodori.eval.protocol import require_hintauc
    from irodori.colorize.pipeline import Colorizer
    from irodori.release import export_any

    require_hintauc()
    sources = _sources(args)
    dry = args.dry_run or args.split != "val"
    base = Colorizer.from_pretrained(args.baseline)
    with tempfile.TemporaryDirectory() as tmp:
        names = _candidate_names(args.runs)
        exported = {name: export_any(run, Path(tmp) / f"{name}.safetensors", native_size=base.native_size)
                    for name, run in zip(names, args.runs)}
        models = {name: Colorizer.from_pretrained(str(path)) for name, (path, _) in exported.items()}
        results = evaluate_models({**models, "bundled": base}, args.data, args.split, args.size, args.limit,
                                  sources, progress=lambda s, i: print(f"\r{s}: {i + 1}", end="", file=sys.stderr))
        print(file=sys.stderr)
        for row in format_table(results, [*names, "bundled"]):
            print(row)
        decisions = {name: decide(results, name, "bundled") for name in names}
        chosen = _choose(decisions)
        ok, notes, gain = decisions[chosen]
        for name in names:
            for n in decisions[name][1]:
                print(f"  {name + ': ' if len(names) > 1 else ''}{n}")
        cand_path, step = exported[chosen]
        if args.json:
            atomic_write_text(Path(args.json), json.dumps({
                "step": step, "promoted": ok and not dry, "notes": notes, "split": args.split, "chosen": chosen,
                "candidates": {n: {"run": r, "step": exported[n][1], "passes": d[0], "notes": d[1], "gain_model": d[2]}
                               for (n, d), r in zip(decisions.items(), args.runs)},
                "results": results}, indent=1))
        if ok and not dry:
            _replace(args, cand_path, chosen, results, notes)
    which = f" chosen={args.runs[names.index(chosen)]}" if len(names) > 1 else ""
    print(f"promoted={'dry-run' if dry else 'yes' if ok else 'no'} step={step} gain_model={gain:+.3f}{which}")
    return 0 if ok or dry else REFUSED


def _sources(args) -> list[str]:
    from irodori.errors import InputError
    from irodori.eval.gate import corpus_sources

    if args.limit is not None and args.limit < 1:
        raise InputError(f"--limit must be >= 1, got {args.limit}")
    sources = corpus_sources(args.data)
    if not args.sources:
        return sources
    asked = [s.strip() for s in args.sources.split(",") if s.strip()]
    unknown = sorted(set(asked) - set(sources))
    if unknown or not asked:
        raise InputError(f"--sources: {', '.join(unknown) or 'none given'} not in {args.data} ({', '.join(sources)})")
    return asked


def _candidate_names(runs: list[str]) -> list[str]:
    """``candidate`` for one run; each run's folder or file name for several (numbered where two agree)."""
    from pathlib import Path

    from irodori.errors import InputError

    if len(runs) == 1:
        return ["candidate"]
    stems = [Path(r).stem or "run" for r in runs]
    names = [s if stems.count(s) == 1 else f"{s}-{i + 1}" for i, s in enumerate(stems)]
    if "bundled" in names:
        raise InputError("a candidate may not be called 'bundled' (the model it is compared with)")
    return names


def _choose(decisions: dict) -> str:
    """The passing candidate whose network alone rises most; where none passes, the one that rises most."""
    passing = [n for n, (ok, _, _) in decisions.items() if ok]
    return max(passing or list(decisions), key=lambda n: decisions[n][2])


def _replace(args, cand_path, chosen: str, results: dict, notes: list[str]) -> None:
    """Replace the baseline's weights and JSON (and, for the bundled model, its card) in one atomic step."""
    import json

    from irodori.atomic import atomic_write_files
    from irodori.colorize.model_files import model_files
    from irodori.eval.card import render_card
    from irodori.release import config_path_for

    baseline = model_files(args.baseline)
    target = baseline.weights
    meta = json.loads(config_path_for(cand_path).read_text())
    card = render_card(meta, results, {chosen: "promoted", "bundled": "replaced"}, notes, _command(args),
                       args.split)
    files = [(target, cand_path.read_bytes()), (config_path_for(target), config_path_for(cand_path).read_bytes())]
    if args.baseline == "demo":
        files.append((baseline.cards[0], card.encode()))
    atomic_write_files(files)
    print(f"wrote {', '.join(str(p) for p, _ in files)}")


def _command(args) -> str:
    """The command as the card records it: the run as RUN, every option as given (not read from sys.argv,
    which is not this command's when it is called as a function)."""
    import shlex

    opts = {"--data": args.data, "--split": args.split, "--limit": args.limit, "--sources": args.sources,
            "--baseline": args.baseline, "--size": args.size}
    parts = ["irodori promote " + " ".join(["RUN"] * len(args.runs)),
             *(f"{k} {shlex.quote(str(v))}" for k, v in opts.items() if v is not None)]
    return " ".join(parts + (["--dry-run"] if args.dry_run else []))
