"""``irodori serve``: the web app and its HTTP API (needs the ``web`` extra)."""

from __future__ import annotations

import argparse

from irodori.config import whole_number, decimal_number
from irodori.errors import IrodoriError
from irodori.colorize.options import BACKENDS, PRECISIONS, RESOLUTION_RANGE, ColorizeOptions
from irodori.web.limits import (DEFAULT_MAX_PIXELS, DEFAULT_MAX_RESOLUTION, DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_QUEUE,
                                DEFAULT_WORKERS)

#: Addresses that listen on every interface: the Host names clients will use cannot be known in advance.
EVERY_INTERFACE = ("0.0.0.0", "::", "")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "serve", help="run the web app (paint hints in the browser) and its HTTP API",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Serve the painting page at / and the HTTP API under /api (OpenAPI at /openapi.json, "
                    "Swagger UI at /docs). One process; --workers inferences run at once in threads and "
                    "--queue more may wait, the rest are answered 503 with Retry-After.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    p.add_argument("--port", type=whole_number, default=7860, help="TCP port")
    p.add_argument("--model", default="demo", help="bundled model name, .safetensors file or run directory")
    p.add_argument("--max-upload-mb", type=decimal_number, default=DEFAULT_MAX_UPLOAD_BYTES // 2**20,
                   help="largest request body, in MB (413 past it)")
    p.add_argument("--max-pixels", type=whole_number, default=DEFAULT_MAX_PIXELS,
                   help="largest line art, in pixels (413 past it)")
    p.add_argument("--max-resolution", type=whole_number, default=DEFAULT_MAX_RESOLUTION,
                   help="largest working resolution a client may ask for")
    p.add_argument("--workers", type=whole_number, default=DEFAULT_WORKERS, help="inferences running at once (threads)")
    p.add_argument("--queue", type=whole_number, default=DEFAULT_QUEUE, help="requests that may wait for a worker")
    p.add_argument("--backend", choices=BACKENDS, default="torch",
                   help="run the generator in torch or in ONNX Runtime (needs the `onnx` extra; exported once "
                        "into the cache dir)")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="torch backend: auto = bf16 where the CPU computes it natively (AMX / AVX-512 BF16), "
                        "else fp32")
    p.add_argument("--threads", default=None,
                   help="CPU threads in all, split among workers (default: $IRODORI_THREADS, else the cores "
                        "free at start; see irodori.threads)")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="a host name (as clients type it, without port) the server answers for, besides "
                        "localhost and --host; repeatable; * answers any (the default with --host 0.0.0.0). "
                        "Other names get 421: a web page cannot point its own DNS name at this server")


def allowed_hosts(host: str, extra: list[str]) -> tuple[str, ...]:
    """The Host names to answer for: loopback, the address listened on, and ``--allow-host`` names; any
    name when listening on every interface without ``--allow-host``."""
    from irodori.web.limits import LOCAL_HOSTS

    if host in EVERY_INTERFACE and not extra:
        return ("*",)
    return tuple(dict.fromkeys([*LOCAL_HOSTS, *([] if host in EVERY_INTERFACE else [host]), *extra]))


def run(args) -> int:
    try:
        import uvicorn

        from irodori.web.app import create_app, find_model_card
        from irodori.web.server import server_config
    except ImportError as exc:
        raise IrodoriError(f"the web app needs the `web` extra ({exc.name} is missing): "
                           "pip install 'irodori[web]'") from None
    from irodori import threads as thread_policy
    from irodori.colorize.model_files import model_files
    from irodori.colorize.pipeline import Colorizer
    from irodori.threads import keep_freed_memory

    if args.workers < 1 or args.queue < 0:
        raise IrodoriError(f"--workers must be >= 1 and --queue >= 0, got {args.workers} and {args.queue}")
    if args.max_upload_mb <= 0 or args.max_pixels < 1 or args.max_resolution < RESOLUTION_RANGE[0]:
        raise IrodoriError("--max-upload-mb and --max-pixels must be positive and --max-resolution at least "
                           f"{RESOLUTION_RANGE[0]}")
    if not 0 <= args.port <= 65535:
        raise IrodoriError(f"--port must lie in 0..65535, got {args.port}")
    options = ColorizeOptions(backend=args.backend, precision=args.precision)
    # Set once, here: the workers share the cores instead of each grabbing all of them.
    choice = thread_policy.apply(args.threads, per_worker=args.workers)
    keep_freed_memory()

    colorizer = Colorizer.load(args.model, options, max_pixels=args.max_pixels)
    model = model_files(args.model)
    app = create_app(colorizer, max_upload_bytes=int(args.max_upload_mb * 2**20), max_pixels=args.max_pixels,
                     max_resolution=args.max_resolution, workers=args.workers, queue_size=args.queue,
                     model_name=model.name, model_card=find_model_card(args.model),
                     allowed_hosts=allowed_hosts(args.host, args.allow_host))
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"irodori serve: model {args.model} on http://{host}:{args.port}/ "
          f"({options.backend}, {str(colorizer.dtype).removeprefix('torch.')}, {args.workers} worker(s) x {choice}, "
          f"queue {args.queue}); Ctrl+C stops", flush=True)
    uvicorn.Server(server_config(app, args.host, args.port, log_level="info", timeout_graceful_shutdown=5)).run()
    return 0
