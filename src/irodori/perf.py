"""Measurement helpers for the benchmarks: latency statistics, peak RSS, this CPU's conv peak."""

from __future__ import annotations

import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def time_calls(fn, n: int, warmup: int = 2) -> list[float]:
    """Wall-clock seconds of ``n`` calls of ``fn`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
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
