"""The ``irodori`` command: one subcommand per module in this package, registered in a plain dict."""

from __future__ import annotations

import argparse
import sys

from irodori.errors import IrodoriError
from irodori.threads import configure_openmp


def _commands() -> dict:
    # Imported here so `irodori --help` stays fast and each subcommand imports only what it needs.
    from irodori.cli import (bench, blend, colorize, convert_weights, evaluate, export, export_onnx, export_web, info,
                             prepare, promote, serve, table1, train, train_group)
    return {"colorize": colorize, "info": info, "prepare": prepare, "train": train,
            "train-group": train_group, "export": export, "export-onnx": export_onnx, "export-web": export_web,
            "evaluate": evaluate, "bench": bench, "serve": serve, "convert-weights": convert_weights,
            "table1": table1, "promote": promote, "blend": blend}


def build_parser(commands: dict) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="irodori",
        description="Interactive line-art colorization (Yuan & Simo-Serra, Concatenated Spatial Attention).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, mod in commands.items():
        mod.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    configure_openmp()  # before any subcommand imports torch: its OpenMP runtime reads the wait policy only then
    commands = _commands()
    parser = build_parser(commands)
    args, extra = parser.parse_known_args(argv)
    # KEY=VALUE overrides may come after the options too (`train demo --out D data.size=256`).
    if extra:
        if hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
            args.overrides = list(args.overrides) + extra
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return int(commands[args.command].run(args) or 0)
    except IrodoriError as exc:
        print(f"irodori {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # the file system's refusal (disk full, no permission) that no check foresaw: one line
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"irodori {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"irodori {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
