"""The HTTP API (``/api/...``) and the painting page (``/``), over one :class:`~irodori.colorize.pipeline.Colorizer`.

Limits, each with its own status code:
  * request bodies are counted as they arrive: past ``max_upload_bytes`` the answer is 413, before
    anything is parsed (:mod:`irodori.web.limits`);
  * an image's size is read from its header before it is decoded: past ``max_pixels``, 413;
  * files Pillow cannot decode (or formats not on the list) get 415; unusable hints 422, naming the problem;
  * inference runs in ``workers`` threads with at most ``queue_size`` requests waiting for one; past
    that the answer is 503 with ``Retry-After`` (:mod:`irodori.web.queue`).

Modules: ``limits`` (ASGI middleware), ``queue`` (the work queue), ``uploads`` (one request's work on a
worker thread), ``schemas`` (the OpenAPI shapes), and this one (routes). The server keeps no state
between requests, so any number of them can sit behind a load balancer.
"""

from __future__ import annotations

import base64
import logging
import re
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect

import irodori
from irodori import threads
from irodori.colorize.model_files import model_files
from irodori.colorize.options import (DEFAULT_SHADING, FLATS_MODES, MAX_GAP_RANGE, RESOLUTION_RANGE, SHADING_RANGE,
                                      WORKING_SIZE)
from irodori.colorize.pipeline import Colorizer
from irodori.config import decimal_number, whole_number
from irodori.errors import InputError, IrodoriError, TooLarge, UnreadableImage
from irodori.web.docs import add_docs
from irodori.web.forms import FormError, read_form
from irodori.web.limits import (DEFAULT_MAX_PIXELS, DEFAULT_MAX_RESOLUTION, DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_QUEUE,
                                DEFAULT_WORKERS, LOCAL_HOSTS, BodyLimit, HostGuard, SecurityHeaders, drain)
from irodori.web.queue import ClientGone, QueueFull, WorkQueue, result_unless_client_leaves
from irodori.web.schemas import COLORIZE_BODY, COLORIZE_RESPONSES, Health, ModelCard
from irodori.web.uploads import LAYER_KEYS, ColorizeForm, colorize_upload

STATIC_DIR = Path(__file__).parent / "static"
MAX_CARD_CHARS = 100_000

log = logging.getLogger("irodori.web")


class ApiError(Exception):
    """An answer other than 200, with a message for the user (sent as ``{"detail": ...}``)."""

    def __init__(self, status: int, detail: str, headers: dict | None = None):
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers or {}


def http_status(exc: InputError) -> int:
    """The status code for an unusable input: too large 413, not a readable image 415, anything else 422."""
    if isinstance(exc, TooLarge):
        return 413
    if isinstance(exc, UnreadableImage):
        return 415
    return 422


def find_model_card(path_or_name) -> str | None:
    """The text of the model's card (where it is: :func:`irodori.colorize.model_files.model_files`), None when
    it has none or it cannot be read."""
    card = model_files(path_or_name).card
    if card is None:
        return None
    try:
        return card.read_text(encoding="utf-8", errors="replace")[:MAX_CARD_CHARS]
    except OSError:
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


def _number(value, name: str, low: float, high: float, whole: bool = False):
    """An optional form number in ``low..high`` (None when absent or blank), else 422 naming the field."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    kind = "a whole number" if whole else "a number"
    try:
        # ASCII digits only, as every number this server reads: no 1_024 or other scripts' digits
        number = whole_number(str(value).strip()) if whole else decimal_number(str(value).strip())
    except ValueError:
        raise ApiError(422, f"{name}: expected {kind} in {low:g}..{high:g}, got {value!r}") from None
    if not low <= number <= high:  # also refuses nan
        raise ApiError(422, f"{name}: expected {kind} in {low:g}..{high:g}, got {value!r}")
    return number


def _resolution(value, max_resolution: int) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        res = whole_number(value)  # ASCII digits only: no spaces, 1_024 or other scripts' digits
    except ValueError:
        raise ApiError(422, f"resolution: expected an integer, got {value!r}") from None
    if not RESOLUTION_RANGE[0] <= res <= max_resolution:
        raise ApiError(422, f"resolution: must lie in {RESOLUTION_RANGE[0]}..{max_resolution} on this server, "
                            f"got {res}")
    return res


async def _read_form(request: Request, max_resolution: int, max_part_size: int) -> ColorizeForm:
    """The colorize form's fields, validated (415 for a body that is not multipart, 400 for one the parser
    refuses, 422 for bad fields)."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "multipart/form-data":
        raise ApiError(415, "send multipart/form-data with the line art as a file field named 'lineart'")
    try:
        return await _parse_form(request, max_resolution, max_part_size)
    except ClientDisconnect:  # the client left mid-upload, or the server closed a malformed one
        raise ClientGone() from None
    except FormError as exc:
        raise ApiError(400, str(exc)) from None


async def _parse_form(request: Request, max_resolution: int, max_part_size: int) -> ColorizeForm:
    form = await read_form(request, max_part_size)
    try:
        lineart = form.get("lineart")
        if not isinstance(lineart, UploadFile):
            raise ApiError(422, "lineart: missing; send the line art as a file field named 'lineart'")
        shading = _number(form.get("shading"), "shading", *SHADING_RANGE)
        options = {"resolution": _resolution(form.get("resolution"), max_resolution) or min(WORKING_SIZE,
                                                                                            max_resolution),
                   "layers": _flag(form.get("layers"), "layers"), "claims": _flag(form.get("claims"), "claims"),
                   "flats": _choice(form.get("flats"), "flats", FLATS_MODES, "regions"),
                   "shading": DEFAULT_SHADING if shading is None else shading,
                   "max_gap": _number(form.get("max_gap"), "max_gap", *MAX_GAP_RANGE, whole=True)}
        hints = form.get("hints")
        hints = await hints.read() if isinstance(hints, UploadFile) else hints
        return ColorizeForm(await lineart.read(), hints, **options)
    finally:
        await form.close()


def _busy(queue: WorkQueue) -> ApiError:
    seconds = queue.retry_after()
    return ApiError(503, f"the server is busy ({queue.capacity} requests running or waiting); retry in {seconds} s",
                    {"Retry-After": str(seconds)})


async def _run(request: Request, queue: WorkQueue, colorizer: Colorizer, form: ColorizeForm,
               max_pixels: int) -> dict:
    """Queue the job (503 when full) and wait for it; input errors become 413/415/422, the rest 500."""
    try:
        future = queue.submit(colorize_upload, colorizer, form, max_pixels)
    except QueueFull:
        raise _busy(queue) from None
    try:
        return await result_unless_client_leaves(request, future)
    except InputError as exc:  # includes HintError
        raise ApiError(http_status(exc), str(exc)) from None
    except IrodoriError as exc:
        log.exception("colorize failed")
        raise ApiError(500, f"colorization failed: {exc}") from None
    except ClientGone:
        raise
    except Exception:
        log.exception("colorize failed")
        raise ApiError(500, "colorization failed (the server log has the details)") from None


def _answer(out: dict, form: ColorizeForm) -> Response:
    headers = {"Cache-Control": "no-store", "X-Colorize-Seconds": str(out["seconds"]),
               "X-Working-Size": str(out["resolution"])}
    if not form.json:
        return Response(out["image"], media_type="image/png", headers=headers)
    b64 = lambda data: base64.b64encode(data).decode("ascii")  # noqa: E731
    for key in LAYER_KEYS:
        if key in out:
            out[key] = b64(out[key])
    if "claims" in out:
        out["claims"]["regions"] = b64(out["claims"]["regions"])
    return JSONResponse(out, headers=headers)


#: An absolute path anywhere in a string (``/…``, ``~…``, a drive letter, a network share), up to a space or a
#: quote; not a URL's path (``https://host/a``: preceded by ``:`` or ``/``) nor a fraction (``1/2``).
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/\\~-])(?:/|~|[A-Za-z]:[\\/]|\\\\)[^\s\"'<>|`]*")


def _last_part(match: re.Match) -> str:
    text = match.group(0)
    path = text.rstrip(".,;:)]}")  # the sentence's punctuation after the path stays
    return Path(path.replace("\\", "/")).name + text[len(path):]


def public(value):
    """``value`` with every absolute path in it, alone or inside a sentence, cut to its last part: what the
    server answers names files but never says where they are on its disk."""
    if isinstance(value, dict):
        return {k: public(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [public(v) for v in value]
    if isinstance(value, str):
        return _ABSOLUTE_PATH.sub(_last_part, value)
    return value


def _card(colorizer: Colorizer, model_name: str, model_card: str | None) -> dict:
    """What ``/api/model`` answers (no server paths: see :func:`public`)."""
    meta = {k: v for k, v in colorizer.meta.items() if k != "config"}
    return {"name": model_name, "native_size": colorizer.native_size, "working_size": WORKING_SIZE,
            "meta": public(meta),
            "config": public(colorizer.config.to_dict()), "card": model_card}


def create_app(colorizer: Colorizer, *, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
               max_pixels: int = DEFAULT_MAX_PIXELS, max_resolution: int = DEFAULT_MAX_RESOLUTION,
               workers: int = DEFAULT_WORKERS, queue_size: int = DEFAULT_QUEUE, model_name: str = "model",
               model_card: str | None = None, allowed_hosts=LOCAL_HOSTS, read_timeout: float = 20.0) -> FastAPI:
    """The web app serving ``colorizer``. ``workers`` inferences run at once, ``queue_size`` more may wait.
    ``allowed_hosts``: the host names it answers for (``"*"``: any; :class:`~irodori.web.limits.HostGuard`);
    ``read_timeout``: seconds an upload may stall before 408.

    Torch's thread count is the caller's business (``irodori serve`` sets it once at start-up).
    """
    if max_upload_bytes < 1 or max_pixels < 1 or max_resolution < RESOLUTION_RANGE[0]:
        raise ValueError("max_upload_bytes and max_pixels must be positive and max_resolution at least "
                         f"{RESOLUTION_RANGE[0]}")
    max_pixels = min(max_pixels, colorizer.max_pixels)
    queue = WorkQueue(workers, queue_size)
    limits = {"max_upload_bytes": max_upload_bytes, "max_pixels": max_pixels, "max_resolution": max_resolution}
    card = _card(colorizer, model_name, model_card)

    @asynccontextmanager
    async def lifespan(_app):
        yield
        queue.shutdown()

    app = FastAPI(
        title="irodori", version=irodori.__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
        description="Interactive line-art colorization (Yuan & Simo-Serra, Concatenated Spatial Attention). "
                    "Send a line art and color hints to `POST /api/colorize`; the page at `/` paints hints "
                    f"over this API. Limits: uploads up to {max_upload_bytes / 2**20:g} MB (413), images up to "
                    f"{max_pixels / 1e6:g} MP (413), {workers} inference(s) at once with {queue_size} waiting "
                    "(503 with Retry-After past that). Errors answer `{\"detail\": \"...\"}`.",
    )
    app.state.queue = queue
    app.state.colorizer = colorizer
    app.add_middleware(BodyLimit, max_bytes=max_upload_bytes, read_timeout=read_timeout)
    app.add_middleware(HostGuard, allowed_hosts=tuple(allowed_hosts))
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(ApiError)
    async def _api_error(_request, exc: ApiError):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)

    @app.post("/api/colorize", response_class=Response, responses=COLORIZE_RESPONSES,
              openapi_extra={"requestBody": COLORIZE_BODY}, summary="Colorize a line art with color hints")
    async def colorize(request: Request):
        """Colorize `lineart` with `hints`. The answer is a PNG the size of the line art, or with `layers=1`
        or `claims=1` JSON holding the image and, as asked, its layers and layered files, and what each hint
        claimed (see ColorizeLayers), base64-encoded."""
        if queue.full():  # before the body is parsed: a busy server stays cheap to ask
            await drain(request.receive)
            raise _busy(queue)
        try:
            form = await _read_form(request, max_resolution, max_upload_bytes)
            out = await _run(request, queue, colorizer, form, max_pixels)
        except ClientGone:
            return Response(status_code=499)  # nobody is listening; the job never ran if it was still waiting
        return _answer(out, form)

    @app.get("/api/health", response_model=Health, summary="Liveness, queue state and limits")
    async def health():
        return {"status": "ok", "version": irodori.__version__, "queue": queue.stats(), "limits": limits,
                "threads": threads.describe()}

    @app.get("/api/model", response_model=ModelCard, summary="The model card: metadata, config and notes")
    async def model():
        return card

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def index():
        return FileResponse(STATIC_DIR / "index.html")  # SecurityHeaders adds the CSP and no-cache

    add_docs(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
