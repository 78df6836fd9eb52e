"""Measurement helpers for the benchmarks: latency statistics, peak RSS, this CPU's conv peak, and a CPU
burner (another program keeping one core busy, as a user's browser or editor does)."""

from __future__ import annotations

import contextlib
import resource
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from irodori.threads import affinity_cpus


def peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def time_calls(fn, n: int, warmup: int = 2, clock=time.perf_counter) -> list[float]:
    """Seconds of ``n`` calls of ``fn`` after ``warmup`` untimed calls, by ``clock`` (wall clock by default;
    ``time.thread_time`` counts only this thread's CPU time, steadier on a shared machine)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(n):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return times


def summarize_ms(times: list[float]) -> dict:
    ms = [t * 1000 for t in times]
    return {"min_ms": min(ms), "median_ms": statistics.median(ms), "max_ms": max(ms)}


@torch.inference_mode()
def conv_peak_gflops(channels: int = 256, size: int = 64, n: int = 5, dtype: torch.dtype = torch.float32) -> float:
    """GFLOP/s of a large 3x3 convolution in ``dtype``, channels-last (the best case for a conv net on this
    CPU and thread count)."""
    x = torch.randn(1, channels, size, size, dtype=dtype).contiguous(memory_format=torch.channels_last)
    w = torch.randn(channels, channels, 3, 3, dtype=dtype).contiguous(memory_format=torch.channels_last)
    flops = 2 * channels * channels * 9 * size * size
    best = min(time_calls(lambda: F.conv2d(x, w, padding=1), n, warmup=2))
    return flops / best / 1e9


#: The burner's own time bound: it stops by itself after this long, or as soon as its parent is gone.
BURN_LIMIT_S = 600.0
_BURNER = """
import os, sys, time
core, seconds, duty, parent = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), os.getppid()
try:
    os.sched_setaffinity(0, {core})
except (AttributeError, OSError):
    pass
end = time.monotonic() + seconds
while time.monotonic() < end and os.getppid() == parent:
    t = time.monotonic() + 0.01 * duty
    while time.monotonic() < t:
        pass
    if duty < 1:
        time.sleep(0.01 * (1 - duty))
"""


@contextlib.contextmanager
def cpu_burner(core: int, seconds: float = BURN_LIMIT_S, duty: float = 1.0):
    """A subprocess busy-looping on CPU ``core`` (pinned where the platform allows), ``duty`` of each 10 ms
    busy, for the ``with`` block: killed when the block ends however it ends, and bounded by ``seconds``
    and by its parent's life should this process be killed first. Yields the process."""
    if not 0 < duty <= 1 or seconds <= 0:
        raise ValueError(f"duty must lie in (0, 1] and seconds be positive, got {duty} and {seconds}")
    proc = subprocess.Popen([sys.executable, "-c", _BURNER, str(core), str(seconds), str(duty)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.2)  # let it start and reach its core before anything is measured
        yield proc
    finally:
        proc.kill()
        proc.wait()


def burner_core() -> int:
    """The CPU the burner takes: the highest this process may run on."""
    return max(affinity_cpus())


def contention_figures(runner, n: int, policy, cores: int, burn_s: float = BURN_LIMIT_S) -> dict:
    """Median ms of ``runner(threads)()`` (a call timed ``n`` times) idle with the thread count ``policy()``
    chooses (a :class:`irodori.threads.ThreadChoice`), then beside a :func:`cpu_burner` with ``policy()``'s
    choice (asked again: it sees the load) and with every fixed count from 1 to ``cores``; plus ``slowdown``
    (contended / idle) and ``policy_ratio`` (contended / best fixed)."""
    median = lambda threads: summarize_ms(time_calls(runner(threads), n))["median_ms"]  # noqa: E731
    idle_choice = policy()
    idle = median(idle_choice.threads)
    with cpu_burner(burner_core(), burn_s) as burner:
        choice = policy()
        contended = median(choice.threads)
        fixed = {t: median(t) for t in range(1, cores + 1)}
        alive = burner.poll() is None
    best = min(fixed, key=fixed.get)
    return {"idle_ms": idle, "idle_choice": idle_choice, "contended_ms": contended, "contended_choice": choice,
            "fixed_ms": fixed, "best_fixed_ms": fixed[best], "best_fixed_threads": best, "burner_ran": alive,
            "slowdown": contended / idle, "policy_ratio": contended / fixed[best]}

