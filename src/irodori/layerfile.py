"""Layered files artists open: OpenRaster (``.ora``: Krita, GIMP, MyPaint) and Photoshop (``.psd``).

Both hold the same stack, top to bottom: ``hints`` (hidden; the hints as given), ``lines`` (multiply; ink on
transparent), ``shading`` (multiply) and ``flats`` (normal), named so, each the full image size. Composited,
they give the colored result (:class:`irodori.pipeline.ColorizeResult`).

OpenRaster is a zip: ``mimetype`` first and stored uncompressed, ``stack.xml`` (first layer = topmost),
one PNG per layer under ``data/``, ``mergedimage.png`` and ``Thumbnails/thumbnail.png`` (≤ 256 px).
PSD is written with ``psd-tools`` (RLE-compressed pixel layers). Both are built in memory; the CLI writes them\nwith the other outputs, all or nothing.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from PIL import Image

from irodori.data.imageio import image_bytes


#: Layer file formats by suffix.
LAYER_FORMATS = (".ora", ".psd")


@dataclass(frozen=True)
class Layer:
    name: str
    image: Image.Image  # RGB or RGBA, the document's size
    blend: str = "normal"  # "normal" or "multiply"
    visible: bool = True


def result_layers(result) -> list[Layer]:
    """The stack of a :class:`~irodori.pipeline.ColorizeResult`, top to bottom."""
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
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "image/openraster", compress_type=zipfile.ZIP_STORED)
        z.writestr("stack.xml", stack, compress_type=zipfile.ZIP_DEFLATED)
        for i, layer in enumerate(layers):
            z.writestr(f"data/{i:02d}-{layer.name}.png", _png(layer.image), compress_type=zipfile.ZIP_STORED)
        z.writestr("mergedimage.png", _png(merged.convert("RGB")), compress_type=zipfile.ZIP_STORED)
        z.writestr("Thumbnails/thumbnail.png", _png(thumb.convert("RGB")), compress_type=zipfile.ZIP_STORED)
    return buf.getvalue()


def psd_bytes(layers: list[Layer], merged: Image.Image) -> bytes:
    """A layered PSD of ``layers`` (top to bottom); needs ``psd-tools``."""
    from psd_tools import PSDImage  # a dependency of the package, imported here: only layered output needs it
    from psd_tools.api.layers import PixelLayer
    from psd_tools.constants import BlendMode, Compression

    psd = PSDImage.new("RGB", merged.size)
    for layer in reversed(layers):  # psd-tools stacks bottom to top
        pixel = PixelLayer.frompil(layer.image.convert("RGBA"), psd, layer.name, 0, 0, Compression.RLE)
        pixel.blend_mode = BlendMode.MULTIPLY if layer.blend == "multiply" else BlendMode.NORMAL
        pixel.visible = layer.visible
        psd.append(pixel)
    buf = io.BytesIO()
    psd.save(buf)
    return buf.getvalue()


def layer_file_bytes(suffix: str, layers: list[Layer], merged: Image.Image) -> bytes:
    if suffix == ".ora":
        return ora_bytes(layers, merged)
    if suffix == ".psd":
        return psd_bytes(layers, merged)
    raise ValueError(f"unknown layer file format {suffix!r}; known: {', '.join(LAYER_FORMATS)}")
