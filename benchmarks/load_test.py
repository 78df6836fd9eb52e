"""Load test for ``irodori serve``: many concurrent clients, a fixed number of requests, then it stops.

Starts the server in a subprocess on 127.0.0.1 with a tiny random model, sends ``--requests``
colorize requests from ``--clients`` concurrent asyncio clients (httpx), and reports the answers per
status code, latency percentiles, throughput and the server's resident memory before, at peak and
after. Exits 1 if any answer is neither 200 nor 503, if a 200 is not a PNG of the line art's size,
if a 503 has no Retry-After, or if any request got no answer at all.

    python benchmarks/load_test.py [--clients 50] [--requests 500] [--workers 1] [--queue 8]

Not part of the test suite (it takes tens of seconds and all the CPU it can get).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
import torch
from PIL import Image

from irodori.config import load_config
from irodori.models import build_generator
from irodori.release import save_release

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def rss_bytes(pid: int) -> int:
    try:
        import psutil

        return psutil.Process(pid).memory_info().rss
    except ImportError:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def tiny_model(folder: Path) -> Path:
    torch.manual_seed(0)
    cfg = load_config("tiny", ["generator.output=residual", "data.size=64"])
    return save_release(build_generator(cfg.generator).state_dict(), cfg, folder / "tiny.safetensors", step=0)


def lineart(size: int) -> bytes:
    a = np.full((size, size), 255, np.uint8)
    rng = np.random.default_rng(0)
    for _ in range(12):
        x0, y0 = rng.integers(0, size - 8, 2)
        x1, y1 = np.minimum([x0 + rng.integers(8, size // 2), y0 + rng.integers(8, size // 2)], size - 1)
        a[y0:y1, x0] = a[y0:y1, x1] = a[y0, x0:x1] = a[y1, x0:x1] = 0
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_until_up(base: str, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=base) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"the server exited with code {proc.returncode} before answering")
            try:
                if (await client.get("/api/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit("the server did not come up in time")


@contextlib.contextmanager
def running_server(model: str, log_path: Path, *options: str):
    """``irodori serve --model MODEL OPTIONS`` on a free loopback port, up and answering; yields (base URL,
    process) and stops it afterwards (its output goes to ``log_path``)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "w") as log:
        cmd = [sys.executable, "-m", "irodori", "serve", "--model", model, "--port", str(port), *options]
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "IRODORI_OFFLINE": "1"})
        try:
            asyncio.run(wait_until_up(base, proc))
            yield base, proc
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


class Answer:
    """An HTTP answer as :class:`RawConnection` reads it."""

    def __init__(self, status: int, headers: dict[str, str], content: bytes):
        self.status_code, self.headers, self.content = status, headers, content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


class RawConnection:
    """One keep-alive HTTP/1.1 connection that sends pre-encoded requests: a load generator this light
    (tens of microseconds a request) measures the server, where httpx spent ~5 ms of CPU a request and,
    sharing the cores with the server, its own queue became most of the measured latency."""

    def __init__(self, base: str):
        host, port = base.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.reader = self.writer = None

    async def send(self, request: bytes) -> Answer:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        try:
            self.writer.write(request)
            await self.writer.drain()
            status = int((await self.reader.readline()).split()[1])
            headers = {}
            while (line := await self.reader.readline()) not in (b"\r\n", b""):
                key, _, value = line.decode("latin-1").partition(":")
                headers[key.strip().lower()] = value.strip()
            content = await self.reader.readexactly(int(headers.get("content-length", 0)))
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError) as exc:
            self.close()
            raise ConnectionError(f"{type(exc).__name__}: {exc}") from exc
        if headers.get("connection", "").lower() == "close":
            self.close()
        return Answer(status, headers, content)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def encoded_post(base: str, path: str, **kwargs) -> bytes:
    """The whole HTTP/1.1 request httpx would send for ``POST path`` with ``kwargs``, as bytes."""
    request = httpx.Request("POST", base + path, **kwargs)
    body = request.read()
    head = [f"POST {path} HTTP/1.1", f"host: {base.removeprefix('http://')}", f"content-length: {len(body)}",
            f"content-type: {request.headers['content-type']}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


async def run_load(base: str, pid: int, args) -> dict:
    body = lineart(args.size)
    hints = json.dumps([{"x": 20 + 37 * i % (args.size - 40), "y": 30 + 53 * i % (args.size - 60),
                         "color": f"#{(70 * i) % 256:02x}{(150 + 40 * i) % 256:02x}{(200 - 30 * i) % 256:02x}",
                         "size": 5} for i in range(6)])
    # Encoded once, sent as bytes: the clients share these cores with the server, so they must do little.
    request = encoded_post(base, "/api/colorize", files={"lineart": ("l.png", body, "image/png")},
                           data={"hints": hints})
    tickets = iter(range(args.requests))
    statuses: Counter = Counter()
    latencies: dict[int, list[float]] = {}
    problems: list[str] = []
    lost: Counter = Counter()
    peak = rss_bytes(pid)
    done = asyncio.Event()

    async def sample_memory():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_bytes(pid))
            await asyncio.sleep(0.1)

    async def client(client_id: int):
        connection = RawConnection(base)
        for i in tickets:
            start = time.perf_counter()
            try:
                r = await asyncio.wait_for(connection.send(request), args.timeout)
            except (ConnectionError, asyncio.TimeoutError) as exc:
                connection.close()
                lost[type(exc).__name__] += 1
                continue
            seconds = time.perf_counter() - start
            statuses[r.status_code] += 1
            latencies.setdefault(r.status_code, []).append(seconds)
            if r.status_code == 200:
                if r.headers.get("content-type") != "image/png" or not r.content.startswith(PNG_MAGIC):
                    problems.append(f"request {i}: a 200 that is not a PNG")
                elif Image.open(io.BytesIO(r.content)).size != (args.size, args.size):
                    problems.append(f"request {i}: a PNG of the wrong size")
            elif r.status_code == 503:
                if not r.headers.get("retry-after", "").isdigit():
                    problems.append(f"request {i}: a 503 without Retry-After")
                await asyncio.sleep(args.backoff)  # a polite client waits a little before its next request
            else:
                problems.append(f"request {i}: unexpected {r.status_code} {r.text[:200]}")

    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(base_url=base, timeout=args.timeout, limits=limits) as http:
        sampler = asyncio.ensure_future(sample_memory())
        start = time.perf_counter()
        await asyncio.gather(*(client(c) for c in range(args.clients)))
        elapsed = time.perf_counter() - start
        done.set()
        await sampler
        queue = (await http.get("/api/health")).json()["queue"]
    return {"statuses": statuses, "latencies": latencies, "problems": problems, "lost": lost,
            "elapsed": elapsed, "peak": peak, "queue": queue}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients")
    parser.add_argument("--requests", type=int, default=500, help="requests in all")
    parser.add_argument("--workers", type=int, default=1, help="server: inferences at once")
    parser.add_argument("--queue", type=int, default=8, help="server: requests that may wait")
    parser.add_argument("--threads", type=int, default=0, help="server: torch threads (0: its default)")
    parser.add_argument("--size", type=int, default=256, help="line art side in pixels")
    parser.add_argument("--backoff", type=float, default=0.1, help="seconds a client pauses after a 503")
    parser.add_argument("--timeout", type=float, default=120, help="per-request timeout in seconds")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        model = tiny_model(Path(tmp))
        options = ["--workers", str(args.workers), "--queue", str(args.queue)]
        options += ["--threads", str(args.threads)] if args.threads else []
        with running_server(str(model), Path(tmp) / "server.log", *options) as (base, proc):
            with httpx.Client(base_url=base, timeout=args.timeout) as warm:  # first calls pay one-off costs
                for _ in range(3):
                    warm.post("/api/colorize", files={"lineart": ("l.png", lineart(args.size), "image/png")})
            before = rss_bytes(proc.pid)
            report = asyncio.run(run_load(base, proc.pid, args))
            after = rss_bytes(proc.pid)

    statuses, latencies = report["statuses"], report["latencies"]
    answered = sum(statuses.values())
    lost = sum(report["lost"].values())
    print(f"{args.requests} requests from {args.clients} clients against {args.workers} worker(s) + queue "
          f"{args.queue}, {args.size}x{args.size} line art, in {report['elapsed']:.1f} s "
          f"({answered / report['elapsed']:.1f} answers/s, {statuses[200] / report['elapsed']:.1f} images/s)")
    print("status counts: " + ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items()))
          + (f", no answer: {dict(report['lost'])}" if lost else ", no answer: 0"))
    for code, values in sorted(latencies.items()):
        ms = {q: percentile(values, q) * 1000 for q in (50, 90, 99)}
        print(f"latency {code}: p50 {ms[50]:.0f} ms, p90 {ms[90]:.0f} ms, p99 {ms[99]:.0f} ms, "
              f"max {max(values) * 1000:.0f} ms, mean {statistics.fmean(values) * 1000:.0f} ms")
    mb = 2**20
    print(f"server RSS: before {before / mb:.0f} MB, peak {report['peak'] / mb:.0f} MB, after {after / mb:.0f} MB")
    print(f"queue after the run: {report['queue']}")
    failures = list(report["problems"])
    if lost:
        failures.append(f"{lost} requests got no answer: {dict(report['lost'])}")
    if answered + lost != args.requests:
        failures.append(f"{args.requests - answered - lost} requests unaccounted for")
    if report["queue"]["running"] or report["queue"]["waiting"]:
        failures.append("the queue did not drain")
    for line in failures[:20]:
        print("FAIL:", line)
    print("OK: every answer was 200 or 503, none lost or malformed" if not failures else f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
