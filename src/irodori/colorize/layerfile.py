"""Layered files artists open: OpenRaster (``.ora``: Krita, GIMP, MyPaint) and Photoshop (``.psd``).

Both hold the same stack, top to bottom: ``hints`` (hidden; the hints as given), ``lines`` (multiply; ink on
transparent), ``shading`` (multiply) and ``flats`` (normal), named so, each the full image size. Composited,
they give the colored result (:class:`irodori.colorize.pipeline.ColorizeResult`).

OpenRaster is a zip: ``mimetype`` first and stored uncompressed, ``stack.xml`` (first layer = topmost),
one PNG per layer under ``data/``, ``mergedimage.png`` and ``Thumbnails/thumbnail.png`` (≤ 256 px).
PSD is written with ``psd-tools`` (RLE-compressed pixel layers). Both are built in memory; the CLI writes them
with the other outputs, all or nothing. :func:`layer_outputs` encodes every layer file of a result at once
(the CLI and the web app use it).
"""

from __future__ import annotations

import io
import os
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Callable
from xml.sax.saxutils import quoteattr

from PIL import Image

from irodori.colorize.imageio import image_bytes


#: Layer file formats by suffix.
LAYER_FORMATS = (".ora", ".psd")
#: The layers also given as PNGs of their own, by their ColorizeResult field.
LAYER_PNGS = ("line", "flats", "shading")


@dataclass(frozen=True)
class Layer:
    name: str
    image: Image.Image  # RGB or RGBA, the document's size
    blend: str = "normal"  # "normal" or "multiply"
    visible: bool = True


def result_layers(result) -> list[Layer]:
    """The stack of a :class:`~irodori.colorize.pipeline.ColorizeResult`, top to bottom."""
    return [Layer("hints", result.hints, visible=False), Layer("lines", result.line, "multiply"),
            Layer("shading", result.shading, "multiply"), Layer("flats", result.flats)]


def _png(image: Image.Image) -> bytes:
    """PNG at zlib level 1: the layers go into a zip anyway, and level 6 takes ~4x longer at 1 MP."""
    return image_bytes(image, ".png", compress_level=1)


def ora_bytes(layers: list[Layer], merged: Image.Image) -> bytes:
    """An OpenRaster document of ``layers`` (top to bottom) with ``merged`` as its flattened image."""
    w, h = merged.size
    ops = {"normal": "svg:src-over", "multiply": "svg:multiply"}
    rows = [f'  <layer name={quoteattr(layer.name)} src="data/{i:02d}-{layer.name}.png" x="0" y="0" '
            f'opacity="1.0" visibility="{"visible" if layer.visible else "hidden"}" '
            f'composite-op="{ops[layer.blend]}"/>' for i, layer in enumerate(layers)]
    stack = ("<?xml version='1.0' encoding='UTF-8'?>\n"
             f'<image version="0.0.3" w="{w}" h="{h}">\n <stack>\n' + "\n".join(rows) + "\n </stack>\n</image>\n")
    thumb = merged.copy()
    thumb.thumbnail((256, 256))
    images = {f"data/{i:02d}-{layer.name}.png": layer.image for i, layer in enumerate(layers)}
    images.update({"mergedimage.png": merged.convert("RGB"), "Thumbnails/thumbnail.png": thumb.convert("RGB")})
    pngs = encode_concurrently([lambda im=im: _png(im) for im in images.values()])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "image/openraster", compress_type=zipfile.ZIP_STORED)
        z.writestr("stack.xml", stack, compress_type=zipfile.ZIP_DEFLATED)
        for name, png in zip(images, pngs):
            z.writestr(name, png, compress_type=zipfile.ZIP_STORED)
    return buf.getvalue()


def encode_concurrently(jobs: list[Callable[[], bytes]], workers: int | None = None) -> list[bytes]:
    """Each job's bytes, in order, run on up to ``workers`` threads (default: the CPUs this process may use,
    at most 4). Pillow's PNG and JPEG encoders release the GIL, so independent images encode in parallel
    (and, unlike a layer's OpenMP threads, nothing waits on a descheduled thread but its own job)."""
    if workers is None:
        workers = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    if workers <= 1 or len(jobs) <= 1:
        return [job() for job in jobs]
    with ThreadPoolExecutor(min(workers, len(jobs))) as pool:
        return list(pool.map(lambda job: job(), jobs))


def psd_bytes(layers: list[Layer], merged: Image.Image) -> bytes:
    """A layered PSD of ``layers`` (top to bottom) with ``merged`` as its flattened preview; needs ``psd-tools``."""
    from psd_tools import PSDImage  # a dependency of the package, imported here: only layered output needs it
    from psd_tools.api.layers import PixelLayer
    from psd_tools.constants import BlendMode, Compression

    psd = PSDImage.new("RGBA", merged.size)  # RGBA: each layer keeps its alpha as layer transparency, not a mask
    for layer in reversed(layers):  # psd-tools stacks bottom to top
        pixel = PixelLayer.frompil(layer.image.convert("RGBA"), psd, layer.name, 0, 0, Compression.RLE)
        pixel.blend_mode = BlendMode.MULTIPLY if layer.blend == "multiply" else BlendMode.NORMAL
        pixel.visible = layer.visible
        psd.append(pixel)
    _set_preview(psd, merged)
    buf = io.BytesIO()
    psd.save(buf)
    return buf.getvalue()


def _set_preview(psd, merged: Image.Image) -> None:
    """Store ``merged`` as the document's flattened image instead of letting ``save`` composite the layers
    again (psd-tools' compositor took 60% of the PSD's encoding time at 1 MP; ``merged`` is the result the
    layers composite to). Uses psd-tools internals; where they differ, ``save`` composites as before."""
    import numpy as np

    try:
        from psd_tools.api.numpy_io import encode_image_data

        record = psd._record
        color = np.asarray(merged.convert("RGB"), np.float32) / 255
        planes = encode_image_data(psd, color, np.ones(color.shape[:2] + (1,), np.float32))
        record.image_data.set_data(planes, record.header)
        psd._update_preview = lambda: None
    except (ImportError, AttributeError, TypeError):
        return


def layer_file_bytes(suffix: str, layers: list[Layer], merged: Image.Image) -> bytes:
    if suffix == ".ora":
        return ora_bytes(layers, merged)
    if suffix == ".psd":
        return psd_bytes(layers, merged)
    raise ValueError(f"unknown layer file format {suffix!r}; known: {', '.join(LAYER_FORMATS)}")


def layer_outputs(result, compress_level: int = 6) -> dict[str, bytes]:
    """Every layer file of a :class:`~irodori.colorize.pipeline.ColorizeResult`, encoded concurrently: the
    :data:`LAYER_PNGS` as PNGs (zlib ``compress_level``) keyed by name, and the :data:`LAYER_FORMATS` files
    keyed by suffix."""
    stack = result_layers(result)
    jobs = {name: partial(image_bytes, getattr(result, name), ".png", compress_level) for name in LAYER_PNGS}
    jobs.update({suffix: partial(layer_file_bytes, suffix, stack, result.image) for suffix in LAYER_FORMATS})
    return dict(zip(jobs, encode_concurrently(list(jobs.values()))))
