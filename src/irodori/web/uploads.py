"""One request's work, off the event loop: decode the uploads, run the colorizer, encode the answer.

Problems are raised as the package's input errors; the routes turn them into status codes
(:func:`irodori.web.app.http_status`): an image over the pixel limit 413, one that cannot be decoded 415,
unusable hints 422.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from PIL import Image

from irodori.colorize.claims import REASONS
from irodori.colorize.imageio import image_bytes, open_image
from irodori.colorize.flats import DEFAULT_SHADING
from irodori.colorize.hint_input import hint_layer
from irodori.colorize.layerfile import layer_outputs
from irodori.colorize.options import ColorizeOptions
from irodori.colorize.pipeline import Colorizer, lineart_to_unit
from irodori.threads import release_freed_memory

#: Past this many pixels of line art, a request's freed memory is returned to the OS afterwards
#: (:func:`irodori.threads.release_freed_memory`): one 15.9 MP request left the server at 1.1 GB for good.
TRIM_PIXELS = 4_000_000
#: The images a ``layers=1`` answer holds, base64-encoded: PNGs, then the layered files.
LAYER_KEYS = ("image", "line", "flats", "shading", "ora", "psd")


@dataclass(frozen=True)
class ColorizeForm:
    """A colorize request's fields, validated (:mod:`irodori.web.app`): the line art's bytes, the hints (JSON
    text, or an RGBA image's bytes, or None) and the options, named as the CLI's flags."""

    lineart: bytes
    hints: str | bytes | None = None
    resolution: int | None = None
    layers: bool = False
    claims: bool = False
    flats: str = "regions"
    shading: float = DEFAULT_SHADING
    max_gap: int | None = None

    @property
    def json(self) -> bool:
        """Whether the answer is JSON (the layers or the claims asked for) rather than a bare PNG."""
        return self.layers or self.claims


def _png(image: Image.Image) -> bytes:
    return image_bytes(image, ".png", compress_level=3)  # a little larger than level 6, several times faster


def region_png(labels: np.ndarray) -> bytes:
    """The region labels as an RGB PNG: label = R + 256·G + 65536·B (0 never occurs)."""
    labels = labels.astype(np.uint32)
    rgb = np.stack([labels & 255, (labels >> 8) & 255, (labels >> 16) & 255], axis=2).astype(np.uint8)
    return image_bytes(Image.fromarray(rgb, "RGB"), ".png", compress_level=1)


def claims_answer(result) -> dict:
    """What each hint did, for the page: the hints (see :func:`irodori.colorize.claims.hint_report`, each with its
    reason in words), how many there are, and the region map (:func:`region_png`) to outline them."""
    hints = [{**h, "why": REASONS.get(h["reason"]) if h["reason"] else None} for h in result.report]
    return {"hints": hints, "count": result.hint_count, "unclaimed": sum(h["reason"] is not None for h in hints),
            "regions": region_png(result.regions)}


def colorize_upload(colorizer: Colorizer, form: ColorizeForm, max_pixels: int) -> dict:
    """Decode the line art (measured before its pixels are decoded) and the hints (JSON text, or an RGBA image
    file whose alpha > 0 pixels are hints), colorize, and encode the image (and its layers, and the claims).
    After a line art over :data:`TRIM_PIXELS`, the memory its work freed goes back to the OS."""
    out = _colorize(colorizer, form, max_pixels)
    if out["width"] * out["height"] > TRIM_PIXELS:  # its arrays are freed now that _colorize has returned
        release_freed_memory()
    return out


def _colorize(colorizer: Colorizer, form: ColorizeForm, max_pixels: int) -> dict:
    line = lineart_to_unit(open_image(form.lineart, max_pixels, what="lineart"), max_pixels)
    height, width = line.shape
    layer = hint_layer(form.hints, height, width, name="hints", max_pixels=max_pixels)
    start = time.perf_counter()
    options = ColorizeOptions(form.flats, form.shading, form.max_gap, form.resolution)
    result = colorizer.colorize(line, layer, options)  # both decoded once, here
    out = {"width": width, "height": height, "hinted_pixels": len(layer),
           "seconds": round(time.perf_counter() - start, 4), "flats_mode": form.flats,
           "resolution": result.resolution, "shading_strength": form.shading, "max_gap": form.max_gap,
           "image": _png(result.image)}
    if form.claims:
        out["claims"] = claims_answer(result)
    if form.layers:
        files = layer_outputs(result, compress_level=3)
        out.update({key.lstrip("."): data for key, data in files.items()})  # line, flats, shading, ora, psd
    return out
