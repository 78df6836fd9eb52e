"""The HTTP API (``/api/...``) and the painting page (``/``), over one :class:`~irodori.pipeline.Colorizer`.

Limits, each with its own status code:
  * request bodies are counted as they arrive: past ``max_upload_bytes`` the answer is 413, before
    anything is parsed (a declared Content-Length over the limit is refused before a byte is read);
  * an image's size is read from its header before it is decoded: past ``max_pixels``, 413;
  * files Pillow cannot decode (or formats not on the list) get 415; unusable hints 422, naming the problem;
  * inference runs in ``workers`` threads with at most ``queue_size`` requests waiting for one; past
    that the answer is 503 with ``Retry-After``. A request whose client hangs up while it waits is
    dropped from the queue (the page cancels stale previews).

The server keeps no state between requests, so any number of them can sit behind a load balancer.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import math
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

import irodori
from irodori.data.imageio import image_bytes
from irodori.errors import InputError, IrodoriError
from irodori.flats import FLATS_MODES
from irodori.layerfile import layer_file_bytes, result_layers
from irodori.hint_input import HintLayer, draw_hints, hint_layer_from_png, parse_hint_json
from irodori.pipeline import ASSET_DIR, BUNDLED, Colorizer, lineart_to_unit

STATIC_DIR = Path(__file__).parent / "static"
DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
#: A server default below the pipeline's MAX_PIXELS: one 16 MP request needs about 1 GB while it runs.
DEFAULT_MAX_PIXELS = 16_000_000
DEFAULT_MAX_RESOLUTION = 1024
#: Formats the server decodes; anything else (EPS, PDF, ...) is refused with 415 before Pillow looks further.
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_CARD_CHARS = 100_000
#: The page is self-contained: scripts, styles and fetches from this origin only.
PAGE_CSP = ("default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")

log = logging.getLogger("irodori.web")


class ApiError(Exception):
    """An answer other than 200, with a message for the user (sent as ``{"detail": ...}``)."""

    def __init__(self, status: int, detail: str, headers: dict | None = None):
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers or {}


# ---------------------------------------------------------------------------
# Request body limit


class _BodyTooLarge(Exception):
    pass


async def _send_json(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    """ASGI middleware: refuse request bodies over ``max_bytes`` with 413, without buffering them.

    A declared Content-Length over the limit is refused before a byte is read. Otherwise the body is
    counted as it streams in; at the first chunk past the limit ``receive`` raises, so the app stops
    reading, and whatever the app would answer to that is replaced by the 413.
    """

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    def _detail(self, size: int | None) -> str:
        what = f" {size / 2**20:.1f} MB," if size is not None else ""
        return f"the upload is{what} over this server's limit of {self.max_bytes / 2**20:g} MB"

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = [v for k, v in scope["headers"] if k == b"content-length"]
        if declared:
            try:
                size = int(declared[0])
            except ValueError:
                return await _send_json(send, 400, "the Content-Length header is not a number")
            if size > self.max_bytes:
                return await _send_json(send, 413, self._detail(size))
        received = 0
        exceeded = started = False

        async def counting_receive():
            nonlocal received, exceeded
            if exceeded:
                raise _BodyTooLarge()
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise _BodyTooLarge()
            return message

        async def guarded_send(message):
            nonlocal started
            if exceeded:
                return  # the app's answer to a body cut short; the 413 below replaces it
            started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await _send_json(send, 413, self._detail(None))


# ---------------------------------------------------------------------------
# Bounded work queue


class QueueFull(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"busy, retry after {retry_after} s")
        self.retry_after = retry_after


class WorkQueue:
    """``workers`` threads run jobs, at most ``queue_size`` more wait for one, and :meth:`submit` refuses the rest.

    Counters are guarded by a lock (jobs finish on worker threads), so one queue may serve several event loops.
    """

    def __init__(self, workers: int, queue_size: int):
        if workers < 1 or queue_size < 0:
            raise ValueError(f"need workers >= 1 and queue_size >= 0, got {workers} and {queue_size}")
        self.workers, self.queue_size = workers, queue_size
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="irodori-colorize")
        self._lock = threading.Lock()
        self._pending = 0  # admitted and not finished: running + waiting
        self._running = 0
        self._mean_seconds = 1.0  # a prior until the first job has been timed
        self._timed_jobs = 0

    @property
    def capacity(self) -> int:
        return self.workers + self.queue_size

    def stats(self) -> dict:
        with self._lock:
            return {"workers": self.workers, "queue_size": self.queue_size, "running": self._running,
                    "waiting": self._pending - self._running, "mean_seconds": round(self._mean_seconds, 3)}

    def _retry_after(self) -> int:
        """Seconds until a slot is likely to be free again: the mean time of one job."""
        return int(min(300, max(1, math.ceil(self._mean_seconds))))

    def submit(self, fn, *args) -> Future:
        with self._lock:
            if self._pending >= self.capacity:
                raise QueueFull(self._retry_after())
            self._pending += 1
        try:
            future = self._pool.submit(self._timed, fn, args)
        except RuntimeError:  # shut down
            self._release(None)
            raise
        future.add_done_callback(self._release)
        return future

    def _timed(self, fn, args):
        with self._lock:
            self._running += 1
        start = time.perf_counter()
        try:
            return fn(*args)
        finally:
            seconds = time.perf_counter() - start
            with self._lock:
                self._running -= 1
                self._mean_seconds = seconds if self._timed_jobs == 0 else 0.8 * self._mean_seconds + 0.2 * seconds
                self._timed_jobs += 1

    def _release(self, _future) -> None:
        with self._lock:
            self._pending -= 1

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class _ClientGone(Exception):
    pass


async def _wait_for_disconnect(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _result_unless_client_leaves(request: Request, future: Future):
    """The job's result; if the client hangs up first, cancel the job (a no-op once it runs) and raise _ClientGone."""
    job = asyncio.wrap_future(future)
    watcher = asyncio.ensure_future(_wait_for_disconnect(request))
    try:
        done, _ = await asyncio.wait({job, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if job in done:
            return job.result()
        future.cancel()
        raise _ClientGone()
    except asyncio.CancelledError:
        future.cancel()
        raise
    finally:
        watcher.cancel()


# ---------------------------------------------------------------------------
# Decoding the inputs and running the model (on a worker thread)


def _image_size(data: bytes, what: str) -> tuple[Image.Image, int, int]:
    try:
        im = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
    except Image.DecompressionBombError as exc:
        raise ApiError(413, f"{what}: {exc}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise ApiError(415, f"{what}: not an image this server can read "
                            f"(it reads {', '.join(IMAGE_FORMATS)})") from None
    w, h = im.size
    return im, w, h


def open_lineart(data: bytes, max_pixels: int) -> Image.Image:
    """Decode an uploaded line art, measuring it before decoding the pixels."""
    im, w, h = _image_size(data, "lineart")
    if w * h > max_pixels:
        raise ApiError(413, f"lineart: {w}x{h} is {w * h / 1e6:.1f} MP, over this server's limit of "
                            f"{max_pixels / 1e6:g} MP")
    try:
        im.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ApiError(415, f"lineart: the image data is corrupt or truncated ({exc})") from None
    return im


def hint_layer_from_upload(hints: str | bytes | None, height: int, width: int, max_pixels: int) -> HintLayer | None:
    """The ``hints`` field: JSON text (form field or file) or an RGBA image file (alpha > 0 = hint)."""
    if hints is None:
        return None
    if isinstance(hints, bytes):
        is_text = not hints.startswith(PNG_MAGIC)
        if is_text:
            try:
                hints = hints.decode("utf-8")
            except UnicodeDecodeError:
                is_text = False
        if not is_text:
            _, w, h = _image_size(hints, "hints")
            if w * h > max_pixels:
                raise ApiError(413, f"hints: the hint image is {w}x{h}, over this server's limit of "
                                    f"{max_pixels / 1e6:g} MP")
            return hint_layer_from_png(hints, height, width, "hints")
    if not hints.strip():
        return None
    return draw_hints(parse_hint_json(hints, height, width, "hints"), height, width)


def _png(image: Image.Image) -> bytes:
    return image_bytes(image, ".png", compress_level=3)  # a little larger than level 6, several times faster


#: The images a ``layers=1`` answer holds, base64-encoded: PNGs, then the layered files.
LAYER_KEYS = ("image", "line", "flats", "shading", "ora", "psd")


def colorize_upload(colorizer: Colorizer, lineart: bytes, hints, resolution: int | None, layers: bool,
                    max_pixels: int, flats: str = "regions") -> dict:
    """Everything one request needs, off the event loop: decode, validate hints, run the model, encode PNGs."""
    line = lineart_to_unit(open_lineart(lineart, max_pixels), max_pixels)
    height, width = line.shape
    layer = hint_layer_from_upload(hints, height, width, max_pixels)
    start = time.perf_counter()
    result = colorizer(line, layer, resolution=resolution, flats=flats)
    out = {"width": width, "height": height, "hinted_pixels": len(layer) if layer is not None else 0,
           "seconds": round(time.perf_counter() - start, 4), "flats_mode": flats, "image": _png(result.image)}
    if layers:
        stack = result_layers(result)
        out.update(line=_png(result.line), flats=_png(result.flats), shading=_png(result.shading),
                   ora=layer_file_bytes(".ora", stack, result.image), psd=layer_file_bytes(".psd", stack, result.image))
    return out


# ---------------------------------------------------------------------------
# Models for the OpenAPI document


class ErrorDetail(BaseModel):
    detail: str = Field(description="What went wrong, in words meant for the user")


class ColorizeLayers(BaseModel):
    """The answer to ``layers=1``: each image as a base64-encoded PNG."""

    width: int
    height: int
    hinted_pixels: int = Field(description="pixels of the line art covered by a hint")
    seconds: float = Field(description="time spent in the model")
    flats_mode: str = Field(description="how the flats were chosen: regions, hints-only or model")
    image: str = Field(description="the colored illustration (flats × shading × lines), RGB PNG, base64")
    line: str = Field(description="the line layer: black with alpha = ink, RGBA PNG, base64")
    flats: str = Field(description="one flat color per line-art region (hint colors where hints claim "
                                   "regions), RGB PNG, base64")
    shading: str = Field(description="the model's light and shadow, a multiply layer, RGB PNG, base64")
    ora: str = Field(description="OpenRaster file (Krita, GIMP, MyPaint): hints (hidden), lines, shading, "
                                 "flats, base64")
    psd: str = Field(description="layered Photoshop file with the same layers, base64")


class QueueState(BaseModel):
    workers: int
    queue_size: int
    running: int
    waiting: int
    mean_seconds: float


class Limits(BaseModel):
    max_upload_bytes: int
    max_pixels: int
    max_resolution: int


class Health(BaseModel):
    status: str
    version: str
    queue: QueueState
    limits: Limits


class ModelCard(BaseModel):
    name: str
    native_size: int = Field(description="the working long side used when no resolution is given")
    meta: dict = Field(description="the release metadata (step, source, dtype, ...)")
    config: dict = Field(description="the model's full configuration")
    card: str | None = Field(description="MODEL_CARD.md (or NAME.md) next to the weights, if present")


_COLORIZE_BODY = {
    "required": True,
    "content": {"multipart/form-data": {
        "schema": {
            "type": "object",
            "required": ["lineart"],
            "properties": {
                "lineart": {"type": "string", "format": "binary",
                            "description": "the line art: PNG, JPEG, WebP, BMP, GIF or TIFF"},
                "hints": {"type": "string",
                          "description": "optional: a JSON list [{\"x\": 10, \"y\": 20, \"color\": \"#ff0000\", "
                                         "\"size\": 6}, ...] in the line art's pixel coordinates (size optional), "
                                         "as a text field or a file; or an RGBA PNG file whose alpha > 0 pixels are "
                                         "hints (same size as the line art, or the same aspect ratio)"},
                "resolution": {"type": "integer", "minimum": 16,
                               "description": "optional: the working long side in pixels (default: the model's "
                                              "own scale, see /api/model native_size)"},
                "layers": {"type": "boolean", "default": False,
                           "description": "1/true: answer JSON with the image, line, flats and shading layers "
                                          "as base64 PNGs and the layered .ora/.psd files, instead of a bare PNG"},
                "flats": {"type": "string", "enum": list(FLATS_MODES), "default": "regions",
                          "description": "regions: a region a hint claims takes its color, the model colors the "
                                         "rest; hints-only: unhinted regions stay white; model: the model's "
                                         "own colors"},
            },
        },
        "encoding": {"lineart": {"contentType": "image/png, image/jpeg, image/webp, image/bmp, image/gif, "
                                                "image/tiff"}},
    }},
}

_COLORIZE_RESPONSES = {
    200: {"model": ColorizeLayers,
          "description": "The colored image as a PNG the size of the line art; with `layers=1`, JSON with the "
                         "image, its layers and the layered .ora/.psd files, base64-encoded.",
          "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}},
    400: {"model": ErrorDetail, "description": "a malformed multipart body"},
    413: {"model": ErrorDetail, "description": "the upload is over the size limit, or an image over the pixel limit"},
    415: {"model": ErrorDetail, "description": "not multipart/form-data, or a file that is not a readable image"},
    422: {"model": ErrorDetail, "description": "missing line art, malformed or out-of-bounds hints, or a bad "
                                               "resolution/layers/flats value"},
    503: {"model": ErrorDetail, "description": "every worker is busy and the queue is full; retry after the "
                                               "number of seconds in the Retry-After header",
          "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}}},
}


# ---------------------------------------------------------------------------
# The app


def find_model_card(path_or_name) -> str | None:
    """The model card next to the weights: ``NAME.md`` for a bundled model; ``MODEL_CARD.md`` (or the weights'
    name with ``.md``) beside a release file; ``MODEL_CARD.md`` inside a model or run directory."""
    key = str(path_or_name)
    if key in BUNDLED:
        candidates = [(ASSET_DIR / BUNDLED[key]).with_suffix(".md")]
    else:
        path = Path(key)
        candidates = [path / "MODEL_CARD.md"] if path.is_dir() else [path.parent / "MODEL_CARD.md",
                                                                     path.with_suffix(".md")]
    for candidate in candidates:
        if candidate.is_file():
            try:
                return candidate.read_text(encoding="utf-8", errors="replace")[:MAX_CARD_CHARS]
            except OSError:
                return None
    return None


def _flag(value, name: str) -> bool:
    text = "" if value is None else str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("", "0", "false", "no", "off"):
        return False
    raise ApiError(422, f"{name}: expected 1 or 0 (true/false), got {value!r}")


def _choice(value, name: str, choices, default: str) -> str:
    text = default if value is None or (isinstance(value, str) and not value.strip()) else str(value).strip()
    if text not in choices:
        raise ApiError(422, f"{name}: expected one of {', '.join(choices)}, got {value!r}")
    return text


def _resolution(value, max_resolution: int) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        res = int(str(value).strip())
    except ValueError:
        raise ApiError(422, f"resolution: expected an integer, got {value!r}") from None
    if not 16 <= res <= max_resolution:
        raise ApiError(422, f"resolution: must lie in 16..{max_resolution} on this server, got {res}")
    return res


def create_app(colorizer: Colorizer, *, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
               max_pixels: int = DEFAULT_MAX_PIXELS, max_resolution: int = DEFAULT_MAX_RESOLUTION,
               workers: int = 1, queue_size: int = 4, model_name: str = "model",
               model_card: str | None = None) -> FastAPI:
    """The web app serving ``colorizer``. ``workers`` inferences run at once, ``queue_size`` more may wait.

    Torch's thread count is the caller's business (``irodori serve`` sets it once at start-up).
    """
    if max_upload_bytes < 1 or max_pixels < 1 or max_resolution < 16:
        raise ValueError("max_upload_bytes and max_pixels must be positive and max_resolution at least 16")
    max_pixels = min(max_pixels, colorizer.max_pixels)
    queue = WorkQueue(workers, queue_size)
    limits = {"max_upload_bytes": max_upload_bytes, "max_pixels": max_pixels, "max_resolution": max_resolution}

    @asynccontextmanager
    async def lifespan(_app):
        yield
        queue.shutdown()

    app = FastAPI(
        title="irodori", version=irodori.__version__, lifespan=lifespan,
        description="Interactive line-art colorization (Yuan & Simo-Serra, Concatenated Spatial Attention). "
                    "Send a line art and color hints to `POST /api/colorize`; the page at `/` paints hints "
                    f"over this API. Limits: uploads up to {max_upload_bytes / 2**20:g} MB (413), images up to "
                    f"{max_pixels / 1e6:g} MP (413), {workers} inference(s) at once with {queue_size} waiting "
                    "(503 with Retry-After past that). Errors answer `{\"detail\": \"...\"}`.",
    )
    app.state.queue = queue
    app.state.colorizer = colorizer
    app.add_middleware(BodySizeLimit, max_bytes=max_upload_bytes)

    @app.exception_handler(ApiError)
    async def _api_error(_request, exc: ApiError):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)

    @app.post("/api/colorize", response_class=Response, responses=_COLORIZE_RESPONSES,
              openapi_extra={"requestBody": _COLORIZE_BODY}, summary="Colorize a line art with color hints")
    async def colorize(request: Request):
        """Colorize `lineart` with `hints`. The answer is a PNG the size of the line art, or with `layers=1`
        JSON holding the image, its layers and the layered files (see ColorizeLayers), base64-encoded."""
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "multipart/form-data":
            raise ApiError(415, "send multipart/form-data with the line art as a file field named 'lineart'")
        async with request.form(max_files=4, max_fields=8) as form:
            lineart = form.get("lineart")
            if not isinstance(lineart, UploadFile):
                raise ApiError(422, "lineart: missing; send the line art as a file field named 'lineart'")
            resolution = _resolution(form.get("resolution"), max_resolution)
            layers = _flag(form.get("layers"), "layers")
            flats = _choice(form.get("flats"), "flats", FLATS_MODES, "regions")
            hints = form.get("hints")
            if isinstance(hints, UploadFile):
                hints = await hints.read()
            data = await lineart.read()
        try:
            future = queue.submit(colorize_upload, colorizer, data, hints, resolution, layers, max_pixels, flats)
        except QueueFull as exc:
            raise ApiError(503, f"the server is busy ({queue.capacity} requests running or waiting); "
                                f"retry in {exc.retry_after} s",
                           {"Retry-After": str(exc.retry_after)}) from None
        try:
            out = await _result_unless_client_leaves(request, future)
        except _ClientGone:
            return Response(status_code=499)  # nobody is listening; the job never ran if it was still waiting
        except ApiError:
            raise
        except InputError as exc:  # includes HintError
            raise ApiError(422, str(exc)) from None
        except IrodoriError as exc:
            log.exception("colorize failed")
            raise ApiError(500, f"colorization failed: {exc}") from None
        except Exception:
            log.exception("colorize failed")
            raise ApiError(500, "colorization failed (the server log has the details)") from None
        headers = {"Cache-Control": "no-store", "X-Colorize-Seconds": str(out["seconds"])}
        if not layers:
            return Response(out["image"], media_type="image/png", headers=headers)
        for key in LAYER_KEYS:
            out[key] = base64.b64encode(out[key]).decode("ascii")
        return JSONResponse(out, headers=headers)

    @app.get("/api/health", response_model=Health, summary="Liveness, queue state and limits")
    async def health():
        return {"status": "ok", "version": irodori.__version__, "queue": queue.stats(), "limits": limits}

    meta = {k: v for k, v in colorizer.meta.items() if k != "config"}
    if isinstance(meta.get("source"), str):
        meta["source"] = Path(meta["source"]).name  # no server paths in public answers
    card = {"name": model_name, "native_size": colorizer.native_size, "meta": meta,
            "config": colorizer.config.to_dict(), "card": model_card}

    @app.get("/api/model", response_model=ModelCard, summary="The model card: metadata, config and notes")
    async def model():
        return card

    @app.get("/", include_in_schema=False)
    async def index():
        return FileResponse(STATIC_DIR / "index.html", headers={
            "Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
