"""The ``irodori`` command: one subcommand per module in this package, registered in a plain dict."""

from __future__ import annotations

import argparse
import sys

from irodori.errors import IrodoriError


def _commands() -> dict:
    # Imported here so `irodori --help` stays fast and each subcommand imports only what it needs.
    from irodori.cli import export, info, train
    return {"info": info, "train": train, "export": export}


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
    commands = _commands()
    args = build_parser(commands).parse_args(argv)
    try:
        return int(commands[args.command].run(args) or 0)
    except IrodoriError as exc:
        print(f"irodori {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"irodori {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
