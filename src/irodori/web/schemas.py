"""The API's request and answer shapes, for the OpenAPI document (``/openapi.json``, ``/docs``)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from irodori.colorize.claims import REASONS
from irodori.colorize.options import DEFAULT_SHADING, FLATS_MODES, MAX_GAP_RANGE, RESOLUTION_RANGE, SHADING_RANGE


class ErrorDetail(BaseModel):
    detail: str = Field(description="What went wrong, in words meant for the user")


class HintClaim(BaseModel):
    x: int = Field(description="a pixel of the hint (the one nearest its centre)")
    y: int
    box: list[int] = Field(description="[x0, y0, x1, y1], inclusive: the hint's bounding box")
    regions: list[int] = Field(description="the labels (in the region map) of the regions it claimed")
    reason: str | None = Field(description="why it claimed nothing: " + ", ".join(REASONS) + "; null if it claimed")
    why: str | None = Field(description="the reason in words")


class Claims(BaseModel):
    hints: list[HintClaim] = Field(description="one entry per hint (a connected piece of the hint layer), in "
                                               "reading order, at most 500")
    count: int = Field(description="how many hints there are")
    unclaimed: int = Field(description="how many of the listed hints claimed no region")
    regions: str = Field(description="the line art's regions as an RGB PNG, base64: label = R + 256·G + 65536·B")


class ColorizeLayers(BaseModel):
    """The answer to ``layers=1`` or ``claims=1``: each image as a base64-encoded PNG."""

    width: int
    height: int
    hinted_pixels: int = Field(description="pixels of the line art covered by a hint")
    seconds: float = Field(description="time spent in the model")
    flats_mode: str = Field(description="how the flats were chosen: regions, hints-only or model")
    resolution: int = Field(description="the working long side the model ran at")
    shading_strength: float = Field(description="the shading asked for")
    max_gap: int | None = Field(description="the gap closing asked for (null: scaled with the image)")
    image: str = Field(description="the colored illustration (flats × shading × lines), RGB PNG, base64")
    claims: Claims | None = Field(None, description="with claims=1: what each hint claimed")
    line: str | None = Field(None, description="with layers=1: the line layer, black with alpha = ink, RGBA PNG")
    flats: str | None = Field(None, description="with layers=1: one flat color per line-art region (hint colors "
                                                "where hints claim regions), RGB PNG, base64")
    shading: str | None = Field(None, description="with layers=1: the light and shadow, a multiply layer, RGB PNG")
    ora: str | None = Field(None, description="with layers=1: OpenRaster file (Krita, GIMP, MyPaint): hints "
                                              "(hidden), lines, shading, flats, base64")
    psd: str | None = Field(None, description="with layers=1: layered Photoshop file with the same layers, base64")


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


class Threads(BaseModel):
    threads: int = Field(description="torch's intra-op threads per inference")
    cores: int = Field(description="the cores this process may use (affinity, cgroup quota)")
    wait_policy: str = Field(description="the OpenMP wait policy (passive: idle threads sleep)")
    override: str | None = Field(description="$IRODORI_THREADS, when set")


class Health(BaseModel):
    status: str
    version: str
    queue: QueueState
    limits: Limits
    threads: Threads


class ModelCard(BaseModel):
    name: str
    native_size: int = Field(description="the long side the model was trained at")
    working_size: int = Field(description="the working long side used when no resolution is given (the CLI's too)")
    meta: dict = Field(description="the release metadata (step, source, dtype, ...)")
    config: dict = Field(description="the model's full configuration")
    card: str | None = Field(description="MODEL_CARD.md (or NAME.md) next to the weights, if present")


COLORIZE_BODY = {
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
                "resolution": {"type": "integer", "minimum": RESOLUTION_RANGE[0],
                               "description": "optional: the working long side in pixels (default: the CLI's, "
                                              "see /api/model working_size)"},
                "layers": {"type": "boolean", "default": False,
                           "description": "1/true: answer JSON with the image, line, flats and shading layers "
                                          "as base64 PNGs and the layered .ora/.psd files, instead of a bare PNG"},
                "claims": {"type": "boolean", "default": False,
                           "description": "1/true: answer JSON with the image and what each hint claimed (the "
                                          "page's feedback), without the layer files"},
                "shading": {"type": "number", "minimum": SHADING_RANGE[0], "maximum": SHADING_RANGE[1],
                            "default": DEFAULT_SHADING,
                            "description": "how much of the model's light and shadow shows over a hint's flat "
                                           "color (the CLI's --shading)"},
                "max_gap": {"type": "integer", "minimum": MAX_GAP_RANGE[0], "maximum": MAX_GAP_RANGE[1],
                            "description": "optional: the widest gap in a line (px) that still closes a region "
                                           "(the CLI's --max-gap; default: scaled with the image)"},
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

COLORIZE_RESPONSES = {
    200: {"model": ColorizeLayers,
          "description": "The colored image as a PNG the size of the line art; with `layers=1`, JSON with the "
                         "image, its layers and the layered .ora/.psd files, base64-encoded.",
          "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}},
    400: {"model": ErrorDetail, "description": "a malformed multipart body"},
    413: {"model": ErrorDetail, "description": "the upload is over the size limit, or an image over the pixel limit"},
    415: {"model": ErrorDetail, "description": "not multipart/form-data, or a file that is not a readable image"},
    422: {"model": ErrorDetail, "description": "missing line art, malformed or out-of-bounds hints, or a bad "
                                               "resolution/layers/claims/flats/shading/max_gap value"},
    503: {"model": ErrorDetail, "description": "every worker is busy and the queue is full; retry after the "
                                               "number of seconds in the Retry-After header",
          "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}}},
}
