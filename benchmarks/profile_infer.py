"""Where a generator forward spends its time, per layer group, against this CPU's conv peak.

    .venv/bin/python benchmarks/profile_infer.py --size 512 --precision bf16
    .venv/bin/python benchmarks/profile_infer.py --size 1024 --precision fp32 --leaves

Times each top-level module of the bundled generator (stem, down.i, hint_encoder, mid.i, up.i, fuse.i,
to_rgb; with ``--leaves`` every leaf module too) with forward hooks, in the calling thread's CPU time at one
thread by default: on a shared machine that stays close to the compute time, where wall time does not.
"other" is the forward's time outside those modules (the input concatenation, the skip concatenations and
the output's line-art multiply). Then the 15 costliest ops by self time from torch.profiler (wall time).
MACs per module come from torch's FlopCounterMode; ``eff`` is the module's GFLOP/s over the peak of a
256-channel 3x3 conv measured the same way, in the same precision, in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from irodori.colorize.precision import as_input
from irodori.models.summary import generator_inputs
from irodori.colorize.pipeline import Colorizer


#: --stages: top-level modules merged into the U-Net's stages.
STAGES = {"stem": "stem (full-res in)", "down": "encoder (down.*)", "hint_encoder": "hint encoder",
          "mid": "mid-level CSA blocks", "up": "decoder (up.* + fuse.*)", "fuse": "decoder (up.* + fuse.*)",
          "to_rgb": "to_rgb (full-res out)", "other": "other (cat, output)"}


def groups(model: torch.nn.Module, leaves: bool) -> list[tuple[str, torch.nn.Module]]:
    out = []
    for name, child in model.named_children():
        subs = list(enumerate(child)) if isinstance(child, torch.nn.ModuleList) else [(None, child)]
        for i, sub in subs:
            gname = name if i is None else f"{name}.{i}"
            out.append((gname, sub))
            if leaves:
                out += [(f"{gname}.{n}", m) for n, m in sub.named_modules()
                        if n and not list(m.children()) and not isinstance(m, torch.nn.Identity)]
    return out


def module_macs(model, x) -> dict[str, int]:
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(*x, flat=True)
    top = type(model).__name__
    return {k[len(top) + 1:]: sum(v.values()) // 2 for k, v in counter.get_flop_counts().items()
            if k.startswith(top + ".")} | {"(all)": counter.get_total_flops() // 2}


def timed_modules(model, named, x, n: int, clock) -> tuple[dict[str, float], float]:
    """Median ms per module and of the whole forward over ``n`` runs (after two warm-ups)."""
    starts, per_run = {}, defaultdict(list)
    handles = []
    for name, mod in named:
        handles.append(mod.register_forward_pre_hook(lambda m, i, name=name: starts.__setitem__(name, clock())))
        handles.append(mod.register_forward_hook(
            lambda m, i, o, name=name: per_run[name].append(clock() - starts[name])))
    totals = []
    try:
        with torch.inference_mode():
            for k in range(n + 2):
                per_run.clear() if k < 2 else None
                t0 = clock()
                model(*x, flat=True)
                if k >= 2:
                    totals.append(clock() - t0)
    finally:
        for h in handles:
            h.remove()
    return ({k: statistics.median(v) * 1000 for k, v in per_run.items()}, statistics.median(totals) * 1000)


@torch.inference_mode()
def conv_peak(dtype, clock, n: int = 5) -> float:
    x = torch.randn(1, 256, 64, 64, dtype=dtype).contiguous(memory_format=torch.channels_last)
    w = torch.randn(256, 256, 3, 3, dtype=dtype).contiguous(memory_format=torch.channels_last)
    times = []
    for k in range(n + 2):
        t0 = clock()
        F.conv2d(x, w, padding=1)
        times.append(clock() - t0)
    return 2 * 256 * 256 * 9 * 64 * 64 / min(times[2:]) / 1e9


def report(args) -> None:
    torch.set_num_threads(args.threads)
    if args.allocator:
        from irodori.threads import keep_freed_memory

        keep_freed_memory()
    clock = time.thread_time if args.threads == 1 and not args.wall else time.perf_counter
    col = Colorizer.from_pretrained(args.model, precision=args.precision)
    G, dtype = col.generator, col.dtype
    if args.plain:  # the generator as irodori.colorize.precision prepared it before fold_for_inference existed
        G = Colorizer._load_torch(args.model, "cpu")[0].eval().to(dtype=dtype, memory_format=torch.channels_last)
    x = [as_input(t, dtype, "cpu") for t in generator_inputs(1, args.size)]
    named = groups(G, args.leaves)
    macs = module_macs(G, x)
    ms, total = timed_modules(G, named, x, args.n, clock)
    peak = conv_peak(dtype, clock)
    covered = sum(ms[name] for name, _ in groups(G, False))
    print(f"profile: model {args.model}{' (plain)' if args.plain else ''}{' +allocator' if args.allocator else ''}, "
          f"{args.size}x{args.size}, {str(dtype)[6:]}, {args.threads} thread(s), "
          f"{'thread CPU' if clock is time.thread_time else 'wall'} time, median of {args.n}; "
          f"conv peak {peak:.0f} GFLOP/s; forward {total:.1f} ms for {macs['(all)'] / 1e9:.2f} GMAC "
          f"= {total / (2 * macs['(all)'] / peak / 1e6):.2f}x its flop bound")
    print(f"| {'group':<26} | {'GMAC':>6} | {'ms':>7} | {'share':>6} | {'GFLOP/s':>7} | {'eff':>5} |")
    print(f"|{'-' * 28}|{'-' * 8}|{'-' * 9}|{'-' * 8}|{'-' * 9}|{'-' * 7}|")
    rows = [(name, ms.get(name, 0.0), macs.get(name, 0)) for name, _ in named] + [("other", total - covered, 0)]
    if args.stages:
        stage = lambda name: STAGES.get(name.split(".")[0], name)  # noqa: E731
        merged = {}
        for name, t, m in rows:
            if args.leaves and name.count(".") > (1 if name.split(".")[0] in ("down", "mid", "up", "fuse") else 0):
                continue
            t0, m0 = merged.get(stage(name), (0.0, 0))
            merged[stage(name)] = (t0 + t, m0 + m)
        rows = [(k, t, m) for k, (t, m) in merged.items()]
    for name, t, m in rows:
        rate = 2 * m / (t / 1000) / 1e9 if t > 0 and m else 0.0
        print(f"| {name:<26} | {m / 1e9:>6.3f} | {t:>7.2f} | {100 * t / total:>5.1f}% | {rate:>7.1f} | "
              f"{rate / peak:>5.2f} |")
    if args.ops:
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof, torch.inference_mode():
            for _ in range(3):
                G(*x, flat=True)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="demo")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--n", type=int, default=5)
    p.add_argument("--leaves", action="store_true", help="also every leaf module")
    p.add_argument("--wall", action="store_true", help="wall time even at one thread")
    p.add_argument("--ops", action="store_true", help="also torch.profiler's op table")
    p.add_argument("--stages", action="store_true", help="rows merged into the U-Net's stages")
    p.add_argument("--plain", action="store_true", help="without irodori.colorize.precision.fold_for_inference")
    p.add_argument("--allocator", action="store_true",
                   help="keep freed memory in the process (irodori.threads.keep_freed_memory) first")
    report(p.parse_args())


if __name__ == "__main__":
    main()
