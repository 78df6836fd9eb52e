"""The API's request and answer shapes, for the OpenAPI document (``/openapi.json``, ``/docs``)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from irodori.flats import FLATS_MODES


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
    native_size: int = Field(description="the working long side used when no resolution is given")
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

COLORIZE_RESPONSES = {
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
