"""``irodori serve``: the web app and its HTTP API (needs the ``web`` extra)."""

from __future__ import annotations

import argparse
import os

from irodori.errors import IrodoriError


def add_parser(sub) -> None:
    p = sub.add_parser(
        "serve", help="run the web app (paint hints in the browser) and its HTTP API",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Serve the painting page at / and the HTTP API under /api (OpenAPI at /openapi.json, "
                    "Swagger UI at /docs). One process; --workers inferences run at once in threads and "
                    "--queue more may wait, the rest are answered 503 with Retry-After.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    p.add_argument("--port", type=int, default=7860, help="TCP port")
    p.add_argument("--model", default="demo", help="bundled model name, .safetensors file or run directory")
    p.add_argument("--max-upload-mb", type=float, default=20, help="largest request body, in MB (413 past it)")
    p.add_argument("--max-pixels", type=int, default=16_000_000, help="largest line art, in pixels (413 past it)")
    p.add_argument("--max-resolution", type=int, default=1024, help="largest working resolution a client may ask for")
    p.add_argument("--workers", type=int, default=1, help="inferences running at once (threads)")
    p.add_argument("--queue", type=int, default=8, help="requests that may wait for a worker")
    p.add_argument("--backend", choices=("torch", "onnx"), default="torch",
                   help="run the generator in torch or in ONNX Runtime (needs the `onnx` extra; exported once "
                        "into the cache dir)")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                   help="torch backend: auto = bf16 where the CPU computes it natively (AMX / AVX-512 BF16), "
                        "else fp32")
    p.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads in all (0: every core, split among workers)")


def _display_name(model: str) -> str:
    """The model's name as the page shows it: no server paths."""
    from pathlib import Path

    from irodori.pipeline import BUNDLED

    path = Path(model)
    return model if model in BUNDLED else (path.name if path.is_dir() else path.stem)


def run(args) -> int:
    try:
        import uvicorn

        from irodori.web.app import create_app, find_model_card
    except ImportError as exc:
        raise IrodoriError(f"the web app needs the `web` extra ({exc.name} is missing): "
                           "pip install 'irodori[web]'") from None
    import torch

    from irodori.pipeline import Colorizer

    if args.workers < 1 or args.queue < 0:
        raise IrodoriError(f"--workers must be >= 1 and --queue >= 0, got {args.workers} and {args.queue}")
    if args.max_upload_mb <= 0 or args.max_pixels < 1 or args.max_resolution < 16:
        raise IrodoriError("--max-upload-mb and --max-pixels must be positive and --max-resolution at least 16")
    if not 0 <= args.port <= 65535:
        raise IrodoriError(f"--port must lie in 0..65535, got {args.port}")
    # Set once, here: the workers share the cores instead of each grabbing all of them.
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.workers)
    torch.set_num_threads(threads)

    colorizer = Colorizer.from_pretrained(args.model, backend=args.backend, max_pixels=args.max_pixels,
                                          precision=args.precision if args.backend == "torch" else "fp32")
    app = create_app(colorizer, max_upload_bytes=int(args.max_upload_mb * 2**20), max_pixels=args.max_pixels,
                     max_resolution=args.max_resolution, workers=args.workers, queue_size=args.queue,
                     model_name=_display_name(args.model), model_card=find_model_card(args.model))
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"irodori serve: model {args.model} on http://{host}:{args.port}/ "
          f"({args.backend}, {str(colorizer.dtype).removeprefix('torch.')}, {args.workers} worker(s) x {threads} thread(s), queue {args.queue}); Ctrl+C stops", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", timeout_graceful_shutdown=5)
    return 0
