"""``irodori bench WHAT``: throughput measurements, one registered function per subcommand.

Each subcommand is an entry of :data:`BENCHES`: name -> (add its arguments, run it). Add a
benchmark by writing those two functions and one dict entry.
"""

from __future__ import annotations

import argparse
import time


def _add_data(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", type=int, default=512, help="square sample size in pixels")
    p.add_argument("--n", type=int, default=200, help="samples timed per line")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic source images and samples")


def _rate(fn, n: int) -> float:
    fn(0)  # warm-up (first-call allocations, lazy imports)
    t0 = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - t0)


def _run_data(args) -> int:
    """Samples/s on one core for each extractor, hint and stroke simulation, JPEG decoding, and the full
    sample (crop + flip + offline mixture + hints + tensors; decoding excluded), on synthetic drawings."""
    import tempfile
    from pathlib import Path

    import cv2
    import numpy as np
    import torch
    from PIL import Image

    from irodori.data import (LINE_EXTRACTORS, OFFLINE_MIXTURE, SampleSpec, draw_shapes, load_rgb, make_sample,
                              random_crop_flip, simulate_hints, simulate_strokes)
    from irodori.data.runtime import tune_allocator
    from irodori.errors import ConfigError

    if args.size < 16 or args.n < 1:
        raise ConfigError("--size must be >= 16 and --n >= 1")
    torch.set_num_threads(1)  # per-core numbers: the entry point owns these global settings
    cv2.setNumThreads(1)
    size, n = args.size, args.n
    source_rng = np.random.default_rng(args.seed)
    sources = [draw_shapes(size * 5 // 4, source_rng) for _ in range(8)]
    crops = [np.ascontiguousarray(s[:size, :size]) for s in sources]
    rng_for = lambda i: np.random.default_rng([args.seed, 1, i])  # noqa: E731

    spec = SampleSpec(size=size, line_methods=dict(OFFLINE_MIXTURE))

    def full(i):
        rng = rng_for(i)
        return make_sample(random_crop_flip(sources[i % len(sources)], size, rng), rng, spec)

    what = f"{' '.join(f'{k} {v}' for k, v in OFFLINE_MIXTURE.items())} + hints + crop/flip + tensors"
    print(f"bench data: {size}x{size}, n={n}, 1 thread, synthetic drawings; full sample = {what}")
    print(f"full sample, default allocator: {_rate(full, n):.1f} samples/s")
    tuned = tune_allocator()
    print("allocator: " + ("tuned by irodori.data.runtime.tune_allocator (as the trainer should run) for the "
                           "lines below" if tuned else "not glibc, left as is"))
    for name, fn in LINE_EXTRACTORS.items():
        rate = _rate(lambda i, fn=fn: fn(crops[i % len(crops)], rng_for(i)), n)
        print(f"{name}: {rate:.1f} samples/s")
    rate = _rate(lambda i: simulate_hints(crops[i % len(crops)], rng_for(i)), n)
    print(f"hints: {rate:.1f} samples/s")
    rate = _rate(lambda i: simulate_strokes(crops[i % len(crops)], rng_for(i)), n)
    print(f"strokes: {rate:.1f} samples/s")
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for k, crop in enumerate(crops):
            paths.append(Path(tmp) / f"{k}.jpg")
            Image.fromarray(crop).save(paths[-1], quality=90)
        rate = _rate(lambda i: load_rgb(paths[i % len(paths)]), n)
        print(f"decode_jpeg: {rate:.1f} samples/s (not part of the full sample)")
    print(f"samples_per_s={_rate(full, n):.1f}")
    return 0


#: name -> (add arguments, run, one-line help)
BENCHES = {
    "data": (_add_data, _run_data, "data synthesis throughput: line extraction, hints, full samples"),
}


def add_parser(sub) -> None:
    p = sub.add_parser("bench", help="measure throughput (data synthesis, ...)",
                       description="Throughput benchmarks; each prints human-readable lines and a last "
                                   "machine-readable KEY=VALUE line.")
    bsub = p.add_subparsers(dest="bench", metavar="WHAT")
    bsub.required = True
    for name, (add_args, run_fn, help_text) in BENCHES.items():
        q = bsub.add_parser(name, help=help_text, description=run_fn.__doc__ or help_text,
                            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        add_args(q)
        q.set_defaults(bench_run=run_fn)


def run(args) -> int:
    return args.bench_run(args)
