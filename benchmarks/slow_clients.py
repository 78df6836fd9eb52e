"""Slow and idle connections against a running ``irodori serve``: each is closed within the documented timeouts,
and ``/api/health`` keeps answering meanwhile.

Starts the server in a subprocess on 127.0.0.1 (a tiny random model) and opens ``--connections`` connections at
once, a quarter of each kind:

* ``silent``: connects and sends nothing (closed after the 10 s header timeout);
* ``slow-headers``: sends its request line, then one header byte a second (closed after the 10 s header timeout);
* ``idle-keep-alive``: one ``GET /api/health``, then nothing (closed after the 5 s keep-alive timeout);
* ``slow-body``: a POST whose body comes one byte every 5 s (408 and closed once it has run 20 s under the
  minimum rate, at the first byte after that: by 25 s).

Meanwhile a client asks ``/api/health`` every 0.5 s. Prints, per kind, how many were closed and the slowest
close, and the health answers' latency; exits 1 if a connection outlived its limit (+ ``--slack`` s) or a
health request failed. Bounded: every connection is dropped by the client after ``--give-up`` seconds.

    python benchmarks/slow_clients.py [--connections 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx

from load_test import running_server, tiny_model

#: Each kind's documented limit in seconds (irodori.web.server and irodori.web.limits).
LIMITS = {"silent": 10.0, "slow-headers": 10.0, "idle-keep-alive": 5.0, "slow-body": 25.0}


async def _until_closed(reader: asyncio.StreamReader, give_up: float) -> bytes:
    data = b""
    deadline = time.monotonic() + give_up
    while time.monotonic() < deadline:
        try:
            chunk = await asyncio.wait_for(reader.read(65536), max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            break
        except ConnectionError:
            return data
        if not chunk:
            return data
        data += chunk
    raise TimeoutError("still open")


async def one(kind: str, host: str, port: int, give_up: float) -> tuple[str, float | None, bytes]:
    """Open one connection of ``kind``; (kind, seconds until the server closed it or None, what it answered)."""
    reader, writer = await asyncio.open_connection(host, port)
    start = time.monotonic()

    async def trickle(first: bytes, byte: bytes, every: float):
        writer.write(first)
        while True:
            await asyncio.sleep(every)
            writer.write(byte)
            await writer.drain()

    feeder = None
    if kind == "slow-headers":
        feeder = asyncio.create_task(trickle(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", b"a", 1.0))
    elif kind == "idle-keep-alive":
        writer.write(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    elif kind == "slow-body":
        feeder = asyncio.create_task(trickle(
            b"POST /api/colorize HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            b"Content-Length: 100000\r\n\r\n", b"-", 5.0))
    try:
        answer = await _until_closed(reader, give_up)
        seconds = time.monotonic() - start
    except TimeoutError:
        answer, seconds = b"", None
    finally:
        if feeder is not None:
            feeder.cancel()
        writer.close()
    return kind, seconds, answer[:40]


async def watch_health(base: str, stop: asyncio.Event) -> tuple[list[float], int]:
    latencies, failures = [], 0
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        while not stop.is_set():
            start = time.monotonic()
            try:
                ok = (await client.get("/api/health")).status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append(time.monotonic() - start)
            failures += not ok
            await asyncio.sleep(0.5)
    return latencies, failures


async def run(base: str, args) -> tuple[list, list[float], int]:
    host, port = base.removeprefix("http://").split(":")
    kinds = list(LIMITS)
    stop = asyncio.Event()
    health = asyncio.create_task(watch_health(base, stop))
    results = await asyncio.gather(*(one(kinds[i % len(kinds)], host, int(port), args.give_up)
                                     for i in range(args.connections)))
    stop.set()
    latencies, failures = await health
    return results, latencies, failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--give-up", type=float, default=60, help="seconds after which the client drops a connection")
    parser.add_argument("--slack", type=float, default=2, help="seconds past a limit still counted as within it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        with running_server(str(tiny_model(Path(tmp))), Path(tmp) / "server.log") as (base, _proc):
            results, latencies, failures = asyncio.run(run(base, args))
    by_kind = defaultdict(list)
    for kind, seconds, _answer in results:
        by_kind[kind].append(seconds)
    late = 0
    for kind, times in by_kind.items():
        closed = [t for t in times if t is not None]
        over = sum(1 for t in times if t is None or t > LIMITS[kind] + args.slack)
        late += over
        print(f"{kind:16s} {len(closed)}/{len(times)} closed by the server, slowest {max(closed, default=0):.1f} s, "
              f"limit {LIMITS[kind]:g} s, over the limit: {over}")
    quantiles = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else latencies * 99
    print(f"/api/health meanwhile: {len(latencies)} requests, {failures} failed, p50 {quantiles[49] * 1000:.0f} ms, "
          f"p99 {quantiles[98] * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")
    print(f"connections={len(results)} over_limit={late} health_failures={failures}")
    return 1 if late or failures else 0


if __name__ == "__main__":
    sys.exit(main())
