"""``irodori info``: a preset's module summary and its parameter and MAC counts (no weights needed)."""

from __future__ import annotations

import argparse

from irodori.config import PRESETS, load_config, whole_number
from irodori.errors import ConfigError


def add_parser(sub) -> None:
    p = sub.add_parser("info", help="summarize a preset's networks: parameters, output shapes, MACs",
                       description="Print the generator's module table for an NxN input and, as the last line, "
                                   "params=<int> macs=<int> (generator, all parameters incl. frozen VGG19; "
                                   "MACs of one forward). Built on the meta device: no weights, no compute.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--preset", default="paper", help=f"preset name ({', '.join(PRESETS)}) or YAML path")
    p.add_argument("--size", type=whole_number, default=512, help="square input size in pixels (multiple of 16)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. generator.num_blocks=4")


def run(args) -> int:
    import torch

    from irodori.models import build_discriminator, build_generator
    from irodori.models.summary import count_params, format_table, generator_inputs, summarize

    cfg = load_config(args.preset, args.overrides)
    if args.size < 16 or args.size % 16:
        raise ConfigError(f"--size must be a positive multiple of 16, got {args.size}")
    with torch.device("meta"):
        g = build_generator(cfg.generator)
        d = build_discriminator(cfg.discriminator)
    rows, macs = summarize(g, generator_inputs(1, args.size, "meta"))
    print(f"preset {cfg.name}: {cfg.description}")
    for dev in cfg.deviations:
        print(f"  deviation: {dev}")
    print(f"\ngenerator ({type(g).__name__}) at {args.size}x{args.size}:")
    print(format_table(rows))
    total, trainable = count_params(g), count_params(g, trainable_only=True)
    print(f"generator: {total:,} parameters ({trainable:,} trainable), {macs:,} MACs")
    print(f"discriminator ({cfg.discriminator.num_d} scales): {count_params(d):,} parameters")
    print(f"params={total} macs={macs}")
    return 0
