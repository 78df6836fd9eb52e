"""One request's work, off the event loop: decode the uploads, run the colorizer, encode the answer.

Problems are raised as the package's input errors; the routes turn them into status codes
(:func:`irodori.web.app.http_status`): an image over the pixel limit 413, one that cannot be decoded 415,
unusable hints 422.
"""

from __future__ import annotations

import time

from PIL import Image

from irodori.data.imageio import image_bytes, open_image
from irodori.hint_input import hint_layer
from irodori.layerfile import layer_outputs
from irodori.pipeline import Colorizer, lineart_to_unit
from irodori.threads import release_freed_memory

#: Past this many pixels of line art, a request's freed memory is returned to the OS afterwards
#: (:func:`irodori.threads.release_freed_memory`): one 15.9 MP request left the server at 1.1 GB for good.
TRIM_PIXELS = 4_000_000
#: The images a ``layers=1`` answer holds, base64-encoded: PNGs, then the layered files.
LAYER_KEYS = ("image", "line", "flats", "shading", "ora", "psd")


def _png(image: Image.Image) -> bytes:
    return image_bytes(image, ".png", compress_level=3)  # a little larger than level 6, several times faster


def colorize_upload(colorizer: Colorizer, lineart: bytes, hints: str | bytes | None, resolution: int | None,
                    layers: bool, max_pixels: int, flats: str = "regions") -> dict:
    """Decode the line art (measured before its pixels are decoded) and the ``hints`` field (JSON text, or
    an RGBA image file whose alpha > 0 pixels are hints), colorize, and encode the image (and its layers).
    After a line art over :data:`TRIM_PIXELS`, the memory its work freed goes back to the OS."""
    out = _colorize(colorizer, lineart, hints, resolution, layers, max_pixels, flats)
    if out["width"] * out["height"] > TRIM_PIXELS:  # its arrays are freed now that _colorize has returned
        release_freed_memory()
    return out


def _colorize(colorizer: Colorizer, lineart: bytes, hints: str | bytes | None, resolution: int | None,
              layers: bool, max_pixels: int, flats: str) -> dict:
    line = lineart_to_unit(open_image(lineart, max_pixels, what="lineart"), max_pixels)
    height, width = line.shape
    layer = hint_layer(hints, height, width, name="hints", max_pixels=max_pixels)
    start = time.perf_counter()
    result = colorizer(line, layer, resolution=resolution, flats=flats)
    out = {"width": width, "height": height, "hinted_pixels": len(layer),
           "seconds": round(time.perf_counter() - start, 4), "flats_mode": flats, "image": _png(result.image)}
    if layers:
        files = layer_outputs(result, compress_level=3)
        out.update({key.lstrip("."): data for key, data in files.items()})  # line, flats, shading, ora, psd
    return out
