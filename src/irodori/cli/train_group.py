"""``irodori train-group``: several runs in lockstep on one device over one data stream."""

from __future__ import annotations

import json
from pathlib import Path

from irodori.errors import ConfigError


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train-group", help="train several runs in lockstep on one device, every run on the same batches",
        description="Train (or resume) each --run NAME=CONFIG into OUT/NAME, all on the same batches in one "
                    "process (irodori.train.group): one data loader for all, every run at the same step, a time "
                    "limit stops all together. KEY=VALUE overrides apply to every run. Writes OUT/group.json; "
                    "the last line is step=<int> runs=<names>.")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted overrides for every run")
    p.add_argument("--out", required=True, metavar="DIR", help="folder of the run directories")
    p.add_argument("--run", action="append", required=True, metavar="NAME=CONFIG",
                   help="a run: its folder name and a preset or YAML path (CONFIG alone: named after it)")
    p.add_argument("--init", action="append", default=[], metavar="NAME=FILE.safetensors",
                   help="start that run's generator from release weights (its lineage continues), when new")
    p.add_argument("--steps", type=int, help="total steps of every run (overrides train.steps)")
    p.add_argument("--time-limit", type=float, metavar="SECONDS",
                   help="stop every run at the first step boundary after SECONDS from start-up, with checkpoints")
    p.add_argument("--fit", action="store_true",
                   help="with --time-limit: time the first steps, then lower train.steps (and scale each run's "
                        "lr_decay_steps) to what ends before the limit")
    p.add_argument("--reserve", type=float, default=20.0, metavar="SECONDS",
                   help="with --fit: seconds of the limit kept free for the last checkpoints")
    p.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if what == "--run" and not sep:
            name, value = Path(item).stem, item
        if not name or not value:
            raise ConfigError(f"{what} takes NAME=VALUE, got {item!r}")
        if name in out:
            raise ConfigError(f"{what} names {name!r} twice")
        out[name] = value
    return out


def run(args) -> int:
    import torch

    from irodori.atomic import atomic_write_text
    from irodori.cli.train import start_up
    from irodori.config import load_config
    from irodori.train.group import Member, train_group

    start_up(args.device, args.time_limit)
    runs, inits = _pairs(args.run, "--run"), _pairs(args.init, "--init")
    if unknown := sorted(set(inits) - set(runs)):
        raise ConfigError(f"--init names runs that are not in the group: {', '.join(unknown)}")
    overrides = list(args.overrides) + ([f"train.steps={args.steps}"] if args.steps is not None else [])
    members = [Member(name, load_config(config, overrides), inits.get(name)) for name, config in runs.items()]
    result = train_group(members, args.out, time_limit=args.time_limit, fit=args.fit, reserve=args.reserve,
                         device=args.device)
    result["device"] = torch.cuda.get_device_name() if args.device != "cpu" and torch.cuda.is_available() else "cpu"
    result["members"] = {m.name: {"config": runs[m.name], "init_from": Path(m.init_from).name if m.init_from else None}
                         for m in members}
    atomic_write_text(Path(args.out) / "group.json", json.dumps(result, indent=1) + "\n")
    print(f"step={result['step']} runs={','.join(runs)}")
    return 130 if result.get("interrupted") else 0
