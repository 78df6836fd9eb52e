"""``irodori bench WHAT``: throughput measurements, one registered function per subcommand.

Each subcommand is an entry of :data:`BENCHES`: name -> (add its arguments, run it). Add a
benchmark by writing those two functions and one dict entry.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from irodori.colorize.options import BACKENDS, PRECISIONS, ColorizeOptions
from irodori.config import whole_number


def _add_data(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", type=whole_number, default=512, help="square sample size in pixels")
    p.add_argument("--n", type=whole_number, default=200, help="samples timed per line")
    p.add_argument("--seed", type=whole_number, default=0, help="seed of the synthetic source images and samples")


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

    from irodori.data.geometry import random_crop_flip
    from irodori.data.hints import simulate_hints, simulate_strokes
    from irodori.data.imageio import load_rgb
    from irodori.data.lineart import LINE_EXTRACTORS, OFFLINE_MIXTURE
    from irodori.data.sample import SampleSpec, make_sample
    from irodori.data.synthetic import draw_shapes
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


def _add_infer(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group()
    src.add_argument("--model", help="bundled name, .safetensors or run dir (default: the bundled demo model); "
                                     "with --backend onnx also an exported .onnx file (e.g. export-onnx --int8)")
    src.add_argument("--preset", help="a preset with random weights instead of a trained model")
    p.add_argument("--size", type=whole_number, default=512, help="square input size in pixels")
    p.add_argument("--threads", help="CPU threads (default: $IRODORI_THREADS, else the cores free now; "
                                     "see irodori.threads)")
    p.add_argument("--n", type=whole_number, default=10, help="timed forward passes")
    p.add_argument("--backend", choices=BACKENDS, default="torch",
                   help="torch: the module's forward; onnx: its flat-output ONNX export in ONNX Runtime "
                        "(exported to a temp file; with the same number of threads)")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="torch backend's precision, as `irodori colorize` uses it (auto: bf16 where the CPU "
                        "computes it natively); the conv peak is measured in the same precision")
    p.add_argument("--contended", action="store_true",
                   help="also time it beside a CPU burner on one core (another program's load): the default "
                        "thread policy idle and loaded, and every fixed thread count loaded")


def _infer_model(args, options: ColorizeOptions):
    """(description, config, generator, dtype) of what ``bench infer`` times: a torch generator in
    ``options.generator_precision`` (``--backend onnx`` exports it itself), or an ``.onnx`` file as it is."""
    from irodori.config import load_config
    from irodori.models import build_generator

    if args.preset:
        from irodori.colorize.precision import prepare_generator

        cfg = load_config(args.preset)
        G, dtype = prepare_generator(build_generator(cfg.generator), "cpu", options.generator_precision)
        return f"preset {args.preset} (random weights)", cfg, G, dtype
    from irodori.colorize.pipeline import Colorizer

    if options.backend == "onnx" and (args.model or "").lower().endswith(".onnx"):  # e.g. export-onnx --int8
        col = Colorizer.load(args.model, options)
        precision = col.generator.metadata.get("precision", "fp32")
        return f"model {args.model} ({precision})", col.config, col.generator, col.dtype
    col = Colorizer.from_pretrained(args.model or "demo", precision=options.generator_precision)
    return f"model {args.model or 'demo'}", col.config, col.generator, col.dtype


def _infer_runner(args, G, cfg, dtype, tmp: Path):
    """``runner(threads)`` -> a zero-argument call of one forward with that many threads."""
    import torch

    from irodori.models.summary import generator_inputs

    x = generator_inputs(1, args.size)
    if args.backend == "onnx":
        from irodori.colorize.onnx_backend import OnnxGenerator, export_onnx

        path = G.path if isinstance(G, OnnxGenerator) else export_onnx(G, cfg, tmp / "generator.onnx")
        feeds = [t.numpy() for t in x]

        def onnx_runner(threads: int):
            session = OnnxGenerator(path, threads)
            return lambda: session.run(*feeds)
        return onnx_runner
    from irodori.colorize.precision import as_input

    x = [as_input(t, dtype, "cpu") for t in x]

    def torch_runner(threads: int):
        torch.set_num_threads(threads)

        def call():
            with torch.inference_mode():
                G(*x, flat=True)
        return call
    return torch_runner


def _print_contention(c: dict) -> None:
    fixed = ", ".join(f"{t}: {ms:.1f} ms" for t, ms in c["fixed_ms"].items())
    print(f"contended (burner on one core{'' if c['burner_ran'] else ', which died early!'}): policy chose "
          f"{c['contended_choice']}; fixed threads {fixed}")
    print(f"idle_ms={c['idle_ms']:.1f} contended_ms={c['contended_ms']:.1f} best_fixed_ms={c['best_fixed_ms']:.1f} "
          f"slowdown={c['slowdown']:.2f} policy_ratio={c['policy_ratio']:.2f}")


def _run_infer(args) -> int:
    """Latency of one generator forward (batch 1, 5-channel input, inference mode; with ``--backend onnx`` one
    ONNX Runtime run of the flat-output export on the same inputs), peak RSS, MACs, and this
    machine's conv peak measured in the same run; the last line is the ratio of the median latency to the
    time the MACs would take at that peak. ``--contended`` adds the same forward beside another program
    busy on one core: ``idle_ms``, ``contended_ms`` (default thread policy), ``best_fixed_ms`` (the best
    fixed thread count under that load), ``slowdown`` and ``policy_ratio``."""
    import tempfile

    import torch

    from irodori import threads
    from irodori.errors import ConfigError
    from irodori.threads import keep_freed_memory
    from irodori.models import build_generator
    from irodori.models.summary import generator_inputs, summarize
    from irodori.perf import conv_peak_gflops, contention_figures, peak_rss_mb, summarize_ms, time_calls

    if args.size < 16 or args.size % 16 or args.n < 1:
        raise ConfigError("--size must be a positive multiple of 16 and --n >= 1")
    choice = threads.apply(args.threads)
    keep_freed_memory()  # as `irodori colorize` and `irodori serve` run
    what, cfg, G, dtype = _infer_model(args, ColorizeOptions(backend=args.backend, precision=args.precision))
    with torch.device("meta"):
        _, macs = summarize(build_generator(cfg.generator), generator_inputs(1, args.size, "meta"))
    with tempfile.TemporaryDirectory() as tmp:
        runner = _infer_runner(args, G, cfg, dtype, Path(tmp))
        stats = summarize_ms(time_calls(runner(choice.threads), args.n))
        contention = contention_figures(runner, args.n, lambda: threads.resolve(args.threads), choice.cores) \
            if args.contended else None
    torch.set_num_threads(choice.threads)
    peak = conv_peak_gflops(dtype=dtype)
    bound_ms = 2 * macs / (peak * 1e9) * 1000
    print(f"bench infer: {what}, {args.size}x{args.size}, backend {args.backend}, {str(dtype)[6:]}, "
          f"{choice}, OpenMP wait policy {threads.wait_policy()}, n={args.n}")
    print(f"latency: min {stats['min_ms']:.1f} ms, median {stats['median_ms']:.1f} ms, max {stats['max_ms']:.1f} ms")
    print(f"peak_rss_mb={peak_rss_mb():.0f}")
    print(f"macs={macs} ({macs / 1e9:.2f} GMAC)")
    print(f"conv_peak_gflops={peak:.1f} ({str(dtype)[6:]} 3x3 conv, 256 ch, 64x64, channels-last, "
          f"{choice.threads} threads) -> flop bound {bound_ms:.1f} ms")
    if contention:
        _print_contention(contention)
    print(f"threads={choice.threads}")
    print(f"median_ms={stats['median_ms']:.2f}")
    print(f"ratio_to_flop_bound={stats['median_ms'] / bound_ms:.3f}")
    return 0


def _add_regions(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", type=whole_number, default=1024, help="square drawing size in pixels")
    p.add_argument("--n", type=whole_number, default=10, help="timed runs")
    p.add_argument("--image", help="a line art file instead of the synthetic drawing")
    p.add_argument("--model", default="demo", help="model for the whole-colorize timing")
    p.add_argument("--threads", help="CPU threads for the whole colorize (default: as `irodori colorize`: "
                                     "$IRODORI_THREADS, else the cores free now)")


def synthetic_lineart(size: int, seed: int = 0):
    """Closed shapes drawn with anti-aliased 3-px lines, some with 1-4 px gaps, and light speckle."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    img = np.full((size, size), 255, np.uint8)
    for _ in range(24):
        c = tuple(int(v) for v in rng.integers(0, size, 2))
        r = int(rng.integers(size // 40, size // 6))
        if rng.random() < 0.5:
            cv2.circle(img, c, r, 0, 3, cv2.LINE_AA)
        else:
            cv2.rectangle(img, c, (c[0] + r, c[1] + r), 0, 3, cv2.LINE_AA)
        if rng.random() < 0.4:  # a gap
            g = int(rng.integers(1, 5))
            img[max(0, c[1] - r - 3):c[1] - r + 4, c[0]:c[0] + g] = 255
    noise = rng.random(img.shape) < 2e-4
    img[noise] = 0
    return img.astype(np.float32) / 255


def _run_regions(args) -> int:
    """Line-art segmentation (:mod:`irodori.colorize.regions`) on one core in ms per megapixel, then the whole
    ``colorize`` of the same drawing (model, regions, flats and the layered .ora/.psd encoding) with
    one dot in each large closed region."""
    import cv2
    import numpy as np

    from irodori import threads
    from irodori.cli.colorize import _outputs
    from irodori.cli.colorize_outputs import Job, output_files
    from irodori.errors import ConfigError
    from irodori.eval.regionhints import closed_region_dots
    from irodori.colorize.hint_input import layer_from_floats
    from irodori.threads import keep_freed_memory
    from irodori.perf import summarize_ms, time_calls
    from irodori.colorize.pipeline import Colorizer, lineart_to_unit
    from irodori.colorize.regions import segment

    if args.size < 16 or args.n < 1:
        raise ConfigError("--size must be at least 16 and --n >= 1")
    line = lineart_to_unit(args.image) if args.image else synthetic_lineart(args.size)
    mp = line.size / 1e6
    cv2_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    seg = summarize_ms(time_calls(lambda: segment(line), args.n))
    cv2.setNumThreads(cv2_threads)
    count = segment(line).count
    choice = threads.apply(args.threads)
    keep_freed_memory()
    col = Colorizer.load(args.model, ColorizeOptions(precision="auto"))
    hint, mask = closed_region_dots(line, np.full(line.shape + (3,), 0.5, np.float32))
    layer = layer_from_floats(hint, mask)
    whole = summarize_ms(time_calls(lambda: col(line, layer), args.n))
    job = Job(None, output_files(Path("out.png"), layers=True))  # encoded in memory only, never written
    layered = summarize_ms(time_calls(lambda: _outputs(col(line, layer), job), max(1, args.n // 2)))
    print(f"bench regions: {line.shape[1]}x{line.shape[0]} ({mp:.2f} MP), {count} regions, n={args.n}")
    print(f"segment (1 core): median {seg['median_ms']:.1f} ms, max {seg['max_ms']:.1f} ms")
    print(f"colorize ({args.model}, {choice}, native working size, regions + flats): "
          f"median {whole['median_ms']:.1f} ms")
    print(f"colorize + encode PNG/ORA/PSD layers: median {layered['median_ms']:.1f} ms")
    print(f"colorize_ms={whole['median_ms']:.1f} colorize_layers_ms={layered['median_ms']:.1f}")
    print(f"regions_ms_per_mp={seg['median_ms'] / mp:.1f}")
    return 0


def _add_train(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default="demo", help="preset to build (random weights)")
    p.add_argument("--size", type=whole_number, help="square crop size (default: the preset's data.size)")
    p.add_argument("--batch", type=whole_number, help="batch size (default: the preset's train.batch_size)")
    p.add_argument("--n", type=whole_number, default=3, help="timed steps")
    p.add_argument("--threads", type=whole_number, help="torch threads")
    p.add_argument("--precision", choices=PRECISIONS,
                   help="autocast precision, as train.precision (default: the preset's)")


def _run_train(args) -> int:
    """Images/s of one training iteration (G and D forward, backward and Adam step) on random tensors,
    without data loading; VGG-based losses are skipped when their weights are missing."""
    import torch

    from irodori.config import load_config
    from irodori.models import build_discriminator, build_generator
    from irodori.perf import summarize_ms, time_calls
    from irodori.train.loop import autocast_for, micro_step

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config(args.preset, [f"train.precision={args.precision}"] if args.precision else [])
    size, batch = args.size or cfg.data.size, args.batch or cfg.train.batch_size
    autocast, amp = autocast_for(cfg.train.precision, torch.device("cpu"))
    G, D = build_generator(cfg.generator), build_discriminator(cfg.discriminator)
    opt_g = torch.optim.Adam([p for p in G.parameters() if p.requires_grad], lr=cfg.train.lr)
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.train.lr)
    gen = torch.Generator().manual_seed(0)
    b = {"line": torch.rand(batch, 1, size, size, generator=gen) * 2 - 1,
         "hint": torch.rand(batch, 3, size, size, generator=gen) * 2 - 1,
         "mask": (torch.rand(batch, 1, size, size, generator=gen) > 0.99).float(),
         "color": torch.rand(batch, 3, size, size, generator=gen) * 2 - 1}

    def step():
        opt_g.zero_grad(set_to_none=True)
        opt_d.zero_grad(set_to_none=True)
        micro_step(G, D, D, b, cfg.loss, autocast=autocast)
        opt_g.step()
        opt_d.step()

    stats = summarize_ms(time_calls(step, args.n, warmup=1))
    print(f"bench train: preset {args.preset}, {size}x{size}, batch {batch}, {torch.get_num_threads()} threads, "
          f"{'bf16 autocast' if amp == torch.bfloat16 else 'fp32'} "
          f"(perceptual loss {'off' if cfg.loss.perceptual == 'none' else 'skipped: no VGG weights loaded'})")
    print(f"step: min {stats['min_ms']:.0f} ms, median {stats['median_ms']:.0f} ms")
    print(f"images_per_s={batch / (stats['median_ms'] / 1000):.2f}")
    return 0


#: name -> (add arguments, run, one-line help)
BENCHES = {
    "data": (_add_data, _run_data, "data synthesis throughput: line extraction, hints, full samples"),
    "infer": (_add_infer, _run_infer, "generator inference latency against this CPU's conv peak"),
    "train": (_add_train, _run_train, "training throughput: one G and D step, no data loading"),
    "regions": (_add_regions, _run_regions, "line-art segmentation ms/MP and the whole colorize with layers"),
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
