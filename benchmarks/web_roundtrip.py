"""Round trip of one interactive preview through ``irodori serve``: what an artist waits for.

Starts ``irodori serve`` in a subprocess on 127.0.0.1 with the given model (default: the bundled one),
then, from one client, posts a SIZE x SIZE line art with six color hints ``--n`` times in a row at each
working resolution asked for, and prints min / median / max of the wall-clock time from sending the
request to holding the decoded PNG. The server's own time (``X-Colorize-Seconds``) is printed beside it,
so the remainder is HTTP, multipart parsing and PNG encode/decode.

    python benchmarks/web_roundtrip.py [--model demo] [--size 512] [--resolutions native,512] [--n 20] [--backend torch|onnx]

The last line is ``roundtrip_median_ms=<float>`` for the first resolution (the page's default preview).
Not part of the test suite; run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import statistics
import subprocess
import sys
import time

import httpx
from PIL import Image

from irodori.colorize.options import BACKENDS

sys.path.insert(0, os.path.dirname(__file__))
from load_test import free_port, lineart, wait_until_up  # noqa: E402


async def measure(base: str, size: int, resolution: str, n: int) -> tuple[list[float], list[float]]:
    body = lineart(size)
    hints = json.dumps([{"x": 20 + 37 * i % (size - 40), "y": 30 + 53 * i % (size - 60), "color": "#d04030",
                         "size": 5} for i in range(6)])
    data = {"hints": hints}
    if resolution != "native":
        data["resolution"] = resolution
    wall, server = [], []
    async with httpx.AsyncClient(base_url=base, timeout=120) as http:
        for i in range(n + 2):  # two warm-up requests
            start = time.perf_counter()
            r = await http.post("/api/colorize", files={"lineart": ("l.png", body, "image/png")}, data=data)
            if r.status_code != 200:
                raise SystemExit(f"HTTP {r.status_code}: {r.text[:300]}")
            img = Image.open(io.BytesIO(r.content))
            img.load()
            elapsed = time.perf_counter() - start
            if img.size != (size, size):
                raise SystemExit(f"answer is {img.size}, expected {(size, size)}")
            if i >= 2:
                wall.append(elapsed * 1000)
                server.append(float(r.headers["X-Colorize-Seconds"]) * 1000)
    return wall, server


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="demo", help="model for `irodori serve --model`")
    p.add_argument("--size", type=int, default=512, help="line art side in pixels")
    p.add_argument("--resolutions", default="native,512",
                   help="comma-separated working resolutions; 'native' sends none (the model's own scale)")
    p.add_argument("--n", type=int, default=20, help="timed requests per resolution")
    p.add_argument("--threads", type=int, default=0, help="`irodori serve --threads` (0: its default)")
    p.add_argument("--backend", default="torch", choices=BACKENDS, help="`irodori serve --backend`")
    args = p.parse_args()

    port = free_port()
    cmd = [sys.executable, "-m", "irodori", "serve", "--model", args.model, "--port", str(port),
           "--threads", str(args.threads), "--backend", args.backend]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    first = None
    try:
        asyncio.run(wait_until_up(base, proc))
        for res in args.resolutions.split(","):
            wall, server = asyncio.run(measure(base, args.size, res.strip(), args.n))
            med = statistics.median(wall)
            first = med if first is None else first
            print(f"{args.size}x{args.size} line art, resolution {res}: round trip min {min(wall):.1f} / "
                  f"median {med:.1f} / max {max(wall):.1f} ms; server colorize median "
                  f"{statistics.median(server):.1f} ms (n={args.n})")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    print(f"roundtrip_median_ms={first:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
