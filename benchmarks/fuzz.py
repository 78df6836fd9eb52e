"""Fuzz a running ``irodori serve`` over loopback: generated bad inputs, counts by status code, memory.

Starts the server in a subprocess on 127.0.0.1 (a tiny random model by default, ``--model demo`` for the
bundled one), sends ``--inputs`` generated requests (mutated PNGs and JPEGs, garbage EXIF and PNG chunks,
headers that claim huge sizes, hint JSON with bad numbers, deep nesting and huge areas, bad form fields,
raw bodies with odd content types, spoofed, duplicate and malformed Host and Origin headers, TIFFs in many
modes and extra samples, hints with a byte-order mark) from ``--clients`` concurrent clients,
and prints the answers per status code and per kind of input, and the server's resident memory before
and after. Exits 1 if any answer is a 5xx other than 503, or if a request got no answer.

    python benchmarks/fuzz.py [--inputs 2000] [--clients 4] [--seed 0] [--model demo]

Bounded (a fixed number of inputs, a per-request timeout) and loopback only. Not part of the test suite;
``tests/test_web_fuzz.py`` runs a smaller, hypothesis-driven version in-process.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import struct
import sys
import tempfile
import time
import zlib
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from load_test import lineart, rss_bytes, running_server, tiny_model


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(rng: random.Random) -> bytes:
    w, h = rng.randint(1, 120), rng.randint(1, 120)
    arr = np.random.default_rng(rng.randrange(2**32)).integers(0, 256, (h, w, 4), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr, "RGBA").convert(rng.choice(["L", "RGB", "RGBA", "P", "LA", "1", "I;16"])).save(buf, "PNG")
    return buf.getvalue()


def tiff(rng: random.Random) -> bytes:
    """A TIFF in one of many modes: greyscale or RGB or CMYK, 8 to 32 bits, int or float, with 0-2 extra samples
    (associated or unassociated alpha, unspecified), contiguous or planar."""
    import tifffile

    photometric, channels = rng.choice([("minisblack", 1), ("miniswhite", 1), ("rgb", 3), ("separated", 4)])
    extra = rng.sample(["assocalpha", "unassalpha", "unspecified"], rng.randint(0, 2)) if photometric != "miniswhite" else []
    dtype = rng.choice([np.uint8, np.uint16, np.int16, np.float32, np.int32])
    shape = (rng.randint(1, 64), rng.randint(1, 64), channels + len(extra))
    data = np.random.default_rng(rng.randrange(2**32)).integers(0, 255, shape).astype(dtype)
    planar = rng.random() < 0.3 and shape[2] > 1
    buf = io.BytesIO()
    try:
        tifffile.imwrite(buf, np.moveaxis(data, 2, 0) if planar else data.squeeze(2) if shape[2] == 1 else data,
                         photometric=photometric, planarconfig="separate" if planar else None,
                         **({"extrasamples": extra} if extra else {}))
    except ValueError:  # a combination tifffile itself does not write
        return png(rng)
    return buf.getvalue()


def mutated_image(rng: random.Random) -> tuple[str, bytes]:
    data = png(rng)
    how = rng.choice(["chunk", "flip", "truncate", "header", "jpeg-exif", "random", "idat", "tiff", "tiff-flip"])
    if how in ("tiff", "tiff-flip"):
        data = tiff(rng)
        if how == "tiff-flip":
            out = bytearray(data)
            for _ in range(rng.randint(1, 4)):
                out[rng.randrange(len(out))] ^= rng.randint(1, 255)
            data = bytes(out)
        return how, data
    if how == "chunk":
        kind = rng.choice([b"eXIf", b"iCCP", b"zTXt", b"tEXt", b"IDAT", b"PLTE", b"tRNS", b"IHDR", b"acTL"])
        return how, data[:33] + chunk(kind, rng.randbytes(rng.randint(0, 64))) + data[33:]
    if how == "flip":
        out = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            out[rng.randrange(len(out))] ^= rng.randint(1, 255)
        return how, bytes(out)
    if how == "truncate":
        return how, data[:rng.randrange(len(data))]
    if how == "header":  # a few bytes claiming any size: decompression bombs and slivers
        w, h = rng.choice([(16_000_000, 1), (1, 16_000_000), (100_000, 100_000), (rng.randint(0, 2**31 - 1), 7)])
        return how, data[:8] + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) + chunk(b"IEND", b"")
    if how == "jpeg-exif":
        buf = io.BytesIO()
        Image.new("RGB", (rng.randint(8, 64), rng.randint(8, 64)), "white").save(
            buf, "JPEG", exif=b"Exif\x00\x00" + rng.randbytes(rng.randint(0, 80)))
        return how, buf.getvalue()
    if how == "idat":  # the data split in two IDAT chunks, the second one garbage
        raw = zlib.compress(b"\x00" * (40 * 3 + 1) * 30)
        header = chunk(b"IHDR", struct.pack(">IIBBBBB", 40, 30, 8, 2, 0, 0, 0))
        return how, (data[:8] + header + chunk(b"IDAT", raw[:len(raw) // 2]) + chunk(b"IDAT", rng.randbytes(20))
                     + chunk(b"IEND", b""))
    return how, rng.randbytes(rng.randint(0, 300))


def bad_number(rng: random.Random):
    return rng.choice(["1" + "0" * 400, "NaN", "Infinity", "-Infinity", "1e999", "-5", "3.5", "true", "null",
                       '"12"', "[]", "{}", str(2**64)])


def bad_hints(rng: random.Random) -> tuple[str, str | bytes]:
    how = rng.choice(["number", "deep", "area", "keys", "color", "text", "image", "bom"])
    if how == "bom":  # a UTF-8 byte-order mark before good hints: accepted, as text or as a file
        text = "\ufeff" + json.dumps([{"x": rng.randint(0, 40), "y": rng.randint(0, 40), "color": "#ff0000"}])
        return how, text if rng.random() < 0.5 else text.encode("utf-8")
    if how == "number":
        key = rng.choice(["x", "y", "size"])
        entry = {"x": "5", "y": "5", "color": '"#ff0000"', "size": "4", key: bad_number(rng)}
        return how, "[{" + ", ".join(f'"{k}": {v}' for k, v in entry.items()) + "}]"
    if how == "deep":
        depth = rng.choice([500, 1000, 5000, 100_000])
        return how, "[" * depth + "]" * rng.choice([0, depth])
    if how == "area":
        return how, json.dumps([{"x": 10, "y": 10, "color": "#00ff00", "size": 512}] * rng.randint(100, 10_000))
    if how == "keys":
        return how, json.dumps([{rng.choice(["x", "y", "z", "colour", ""]): rng.random() for _ in range(3)}])
    if how == "color":
        return how, json.dumps([{"x": 1, "y": 1, "color": rng.choice(["red", "#ff00", "#ff00000", "#ff0000\n", 7])}])
    if how == "text":
        return how, rng.choice(["", " ", "[", "{}", "null", "\x00\x01", "🎨" * 50, rng.randbytes(40).hex()])
    return how, mutated_image(rng)[1]


def request(rng: random.Random, good: bytes) -> tuple[str, dict]:
    """One generated bad request: its kind and httpx.post keyword arguments."""
    kind = rng.choice(["lineart", "hints", "fields", "raw", "headers"])
    files = {"lineart": ("l.png", good, "image/png")}
    if kind == "lineart":
        how, data = mutated_image(rng)
        return f"lineart/{how}", {"files": {"lineart": ("l", data, "application/octet-stream")}}
    if kind == "hints":
        how, hints = bad_hints(rng)
        if isinstance(hints, bytes):
            return f"hints/{how}", {"files": {**files, "hints": ("h", hints, "application/octet-stream")}}
        return f"hints/{how}", {"files": files, "data": {"hints": hints}}
    if kind == "fields":
        field = rng.choice(["resolution", "layers", "flats", "junk"])
        value = rng.choice(["0", "-1", "99999", "1e3", "NaN", "", "yes please", "regions ", "x" * 5000])
        return f"fields/{field}", {"files": files, "data": {field: value}}
    if kind == "raw":
        ctype = rng.choice(["multipart/form-data", "multipart/form-data; boundary=", "application/json",
                            "multipart/form-data; boundary=zz", "text/plain", "image/png"])
        return "raw", {"content": rng.randbytes(rng.randint(0, 2000)), "headers": {"content-type": ctype}}
    how = rng.choice(["host", "origin", "raw-http", "raw-host"])
    if how == "raw-host":  # duplicate and odd Host and Origin headers, written as is
        host, origin = rng.choice([
            (b"Host: 127.0.0.1\r\nHost: evil.example", b""), (b"Host: localhost:1@evil.example", b""),
            (b"Host: 127.0.0.1", b"Origin: http://evil.example\r\nOrigin: http://127.0.0.1"),
            (b"Host: 127.0.0.1", b"Origin: https://127.0.0.1"), (b"Host: 127.0.0.1", b"Origin: ws://127.0.0.1"),
            (b"Host: 127.0.0.1:80:80", b""), (b"Host: [::1", b""), (b"Host: 127.0.0.1 x", b""), (b"Host:", b""),
            (b"Host: 127.0.0.1", b"Origin: null"), (b"Host: \xff\xfe", b"")])
        return "headers/raw-host", {"raw": b"POST /api/colorize HTTP/1.1\r\n" + host + b"\r\n" + origin
                                    + (b"\r\n" if origin else b"") + b"Content-Length: 0\r\n\r\n"}
    if how == "raw-http":  # what an HTTP client library refuses to send: written to the socket as is
        return "headers/raw-http", {"raw": rng.choice([
            b"POST /api/colorize HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"POST /api/colorize HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
            b"GET / HTTP/1.1\r\n\r\n",
            b"POST /api/colorize HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: not-a-number\r\n\r\n",
            b"POST /api/colorize HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 99999999999\r\n\r\nxx",
            b"POST /api/colorize HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40)])}
    headers = {"host": "attacker.example"} if how == "host" else {"origin": "http://attacker.example"}
    return f"headers/{how}", {"files": files, "headers": headers}


async def raw_http(base: str, data: bytes, timeout: float) -> tuple[int | None, bool]:
    """Send ``data`` on a fresh connection; (the status code answered, or None when the server just closes;
    whether the answer carries a Content-Security-Policy)."""
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(data)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    except (ConnectionError, asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return None, True
    finally:
        writer.close()
    parts = head.split(b"\r\n", 1)[0].split()
    code = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    return code, b"\r\ncontent-security-policy:" in head.lower()


async def fuzz(base: str, args) -> tuple[Counter, dict, Counter]:
    rng = random.Random(args.seed)
    good = lineart(64)
    jobs = [request(rng, good) for _ in range(args.inputs)]
    by_status: Counter = Counter()
    by_kind: dict[str, Counter] = defaultdict(Counter)
    lost: Counter = Counter()
    queue = iter(jobs)

    async def client(http: httpx.AsyncClient):
        for kind, kwargs in queue:
            if "raw" in kwargs:
                code, csp = await raw_http(base, kwargs["raw"], args.timeout)
                by_status[code or "closed"] += 1
                by_kind[kind][code or "closed"] += 1
                lost["answers without CSP"] += not csp
                continue
            try:
                r = await http.post("/api/colorize", **kwargs)
            except (httpx.HTTPError, ValueError, UnicodeEncodeError) as exc:  # ValueError: the client refused
                lost[f"{kind}: {type(exc).__name__}"] += 1
                continue
            by_status[r.status_code] += 1
            by_kind[kind][r.status_code] += 1
            lost["answers without CSP"] += "content-security-policy" not in r.headers

    async with httpx.AsyncClient(base_url=base, timeout=args.timeout) as http:
        await asyncio.gather(*(client(http) for _ in range(args.clients)))
    return by_status, by_kind, lost


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inputs", type=int, default=2000, help="generated requests in all")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default="", help="model to serve (default: a tiny random one)")
    parser.add_argument("--timeout", type=float, default=60, help="per-request timeout in seconds")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or str(tiny_model(Path(tmp)))
        log_path = Path(tmp) / "server.log"
        with running_server(model, log_path, "--queue", "16") as (base, proc):
            before = rss_bytes(proc.pid)
            start = time.perf_counter()
            by_status, by_kind, lost = asyncio.run(fuzz(base, args))
            elapsed = time.perf_counter() - start
            after = rss_bytes(proc.pid)
        server_log = log_path.read_text()
        tracebacks = server_log.count("Traceback")
        if tracebacks:
            first = server_log.index("Traceback")
            print("first traceback in the server log:\n" + server_log[max(0, first - 300):first + 6000][-2500:])

    print(f"{args.inputs} generated inputs from {args.clients} clients in {elapsed:.1f} s (seed {args.seed})")
    no_csp = lost.pop("answers without CSP", 0)
    print("status counts: " + ", ".join(f"{code}: {n}" for code, n in sorted(by_status.items(), key=str))
          + f", no answer: {sum(lost.values())} {dict(lost) if lost else ''}; answers without a CSP: {no_csp}")
    for kind in sorted(by_kind):
        print(f"  {kind:20s} " + ", ".join(f"{code}: {n}" for code, n in sorted(by_kind[kind].items(), key=str)))
    print(f"server memory: {before / 2**20:.0f} MiB before, {after / 2**20:.0f} MiB after; "
          f"tracebacks in the server log: {tracebacks}")
    server_errors = sum(n for code, n in by_status.items() if isinstance(code, int) and code >= 500 and code != 503)
    print(f"status_500={server_errors} no_answer={sum(lost.values())} tracebacks={tracebacks} no_csp={no_csp}")
    return 1 if server_errors or tracebacks or no_csp else 0


if __name__ == "__main__":
    sys.exit(main())
