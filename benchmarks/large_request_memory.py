"""The server's resident memory around one large request: ``irodori serve --model demo --threads 1`` answers
three small requests, then one line art of ``--pixels`` (default 15.9 MP), then 20 small ones; prints the RSS
before the large request, after it and after the small ones, and the mean time of ten 512 px requests.

    python benchmarks/large_request_memory.py [--pixels 15900000]

It measures what ``irodori.web.uploads.TRIM_PIXELS`` decides: freed memory goes back to the OS after a
request over 4 MP, so one large request does not leave the server at its peak for good.
"""

from __future__ import annotations

import argparse
import io
import math
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from load_test import lineart, rss_bytes, running_server


def grid(pixels: int) -> bytes:
    """A white line art of about ``pixels`` pixels with a grid of 3 px lines."""
    w = int(math.sqrt(pixels * 4000 / 3975))
    h = pixels // w
    a = np.full((h, w), 255, np.uint8)
    for i in range(0, h, 200):
        a[i:i + 3] = 0
    for j in range(0, w, 300):
        a[:, j:j + 3] = 0
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pixels", type=int, default=15_900_000)
    args = parser.parse_args()
    small = {"lineart": ("l.png", lineart(256))}
    with tempfile.TemporaryDirectory() as tmp:
        with running_server("demo", Path(tmp) / "server.log", "--threads", "1") as (base, proc):
            with httpx.Client(base_url=base, timeout=600) as client:
                for _ in range(3):
                    client.post("/api/colorize", files=small)
                before = rss_bytes(proc.pid)
                start = time.perf_counter()
                answer = client.post("/api/colorize", files={"lineart": ("l.png", grid(args.pixels))})
                large_seconds = time.perf_counter() - start
                after_large = rss_bytes(proc.pid)
                for _ in range(20):
                    client.post("/api/colorize", files=small)
                after_small = rss_bytes(proc.pid)
                start = time.perf_counter()
                for _ in range(10):
                    client.post("/api/colorize", files={"lineart": ("l.png", lineart(512))})
                mean_512 = (time.perf_counter() - start) / 10
    print(f"{args.pixels / 1e6:.1f} MP request: {answer.status_code} in {large_seconds:.1f} s; server RSS "
          f"{before / 2**20:.0f} MiB before, {after_large / 2**20:.0f} MiB after it, {after_small / 2**20:.0f} MiB "
          f"after 20 small requests; 512 px requests {mean_512 * 1000:.0f} ms mean")
    return 0 if answer.status_code == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
