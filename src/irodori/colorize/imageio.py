"""Images from outside the program, and the model's tensor layout at inference.

Decoding an untrusted image (:func:`open_image`: size read from the header before the pixels, formats on a
list, EXIF orientation applied, broken EXIF ignored); every mode Pillow can open reduced to 8-bit RGB the
same way (:func:`to_rgb_array`: transparency composited on white paper, palettes expanded, 16-bit and 32-bit
greyscale rescaled to 8 bits, greyscale repeated over three channels); encoding results
(:func:`image_bytes`); the image files of a folder (:func:`find_images`); and the generator's inputs and
outputs as arrays (:func:`model_inputs`, :func:`output_colors`; docs/DESIGN.md "Tensors").
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from irodori.errors import InputError, TooLarge, UnreadableImage

#: File name endings treated as images when a folder is scanned.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
#: The Pillow formats those endings name: what user-facing entry points decode (nothing like EPS or PDF).
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
#: File name endings :func:`image_bytes` writes, and the Pillow format of each (every one lossless but JPEG;
#: no GIF: its 256-color palette would lose the colors).
OUTPUT_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF",
                  ".bmp": "BMP"}

_EXIF_ORIENTATION = 0x0112

#: Errors Pillow (and the OS) raise on a missing, truncated or undecodable file.
READ_ERRORS = (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError)


def to_rgb_array(im: Image.Image) -> np.ndarray:
    """An opened Pillow image as an ``H×W×3 uint8`` RGB array, transparency composited on white."""
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit greyscale (and the 32-bit 'I' mode Pillow uses for some 16-bit PNGs): 0..65535 -> 0..255.
        grey = np.asarray(im, dtype=np.float32)
        grey = np.clip(grey / 257.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode == "F":
        grey = np.asarray(im, dtype=np.float32)
        scale = 255.0 if grey.size and float(grey.max()) <= 1.0 else 1.0
        grey = np.clip(grey * scale + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode in ("La", "RGBa"):  # premultiplied ("associated") alpha, as TIFF stores it: color + white * (1 - a)
        arr = np.asarray(im, dtype=np.float32)
        color = np.repeat(arr[:, :, :1], 3, axis=2) if mode == "La" else arr[:, :, :3]
        return np.clip(color + (255.0 - arr[:, :, -1:]) + 0.5, 0, 255).astype(np.uint8)
    has_alpha = mode in ("RGBA", "LA", "PA") or (mode in ("P", "L", "RGB") and "transparency" in im.info)
    try:
        if has_alpha:
            rgba = np.asarray(im.convert("RGBA"), dtype=np.float32)
            alpha = rgba[:, :, 3:4] * (1.0 / 255.0)
            rgb = rgba[:, :, :3] * alpha + 255.0 * (1.0 - alpha)
            return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
        if mode != "RGB":
            im = im.convert("RGB")
    except ValueError as exc:  # a mode Pillow decodes but cannot convert
        raise UnreadableImage(f"images in mode {mode} cannot be converted to RGB ({exc})") from None
    return np.asarray(im, dtype=np.uint8).copy()


def open_image(source: str | os.PathLike | bytes, max_pixels: int, *, what: str | None = None,
               formats: tuple[str, ...] | None = IMAGE_FORMATS) -> Image.Image:
    """Decode an untrusted image (a path or the file's bytes): its size is read from the header and checked
    against ``max_pixels`` before the pixels are decoded. :class:`TooLarge` past the limit,
    :class:`UnreadableImage` for what Pillow cannot decode (or a format not in ``formats``),
    ``InputError`` for a missing file; the image is loaded and upright (EXIF orientation applied)."""
    what = what or (str(source) if not isinstance(source, bytes) else "image")
    try:
        im = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source, formats=formats)
    except FileNotFoundError:
        raise InputError(f"{what}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{what}: is a folder, not an image") from None
    except Image.DecompressionBombError as exc:
        raise TooLarge(f"{what}: {exc}") from None
    except READ_ERRORS as exc:
        readable = f" (it reads {', '.join(formats)})" if formats else ""
        why = "" if isinstance(exc, UnidentifiedImageError) else f": {exc}"
        raise UnreadableImage(f"{what}: not an image this program can read{readable}{why}") from None
    w, h = im.size
    if w * h > max_pixels:
        raise TooLarge(f"{what}: {w}x{h} is {w * h / 1e6:.1f} MP, over the limit of {max_pixels / 1e6:g} MP")
    try:
        im.load()
    except Exception as exc:  # noqa: BLE001 - a decoder fed hostile bytes raises many types (zlib, struct, EOF...)
        raise UnreadableImage(f"{what}: the image data is corrupt or truncated ({str(exc)[:200]})") from None
    return upright(im)


def upright(im: Image.Image) -> Image.Image:
    """``im`` turned as its EXIF orientation says; unchanged when it has none, or when the EXIF is
    malformed (browsers ignore broken EXIF too)."""
    try:
        if im.getexif().get(_EXIF_ORIENTATION, 1) == 1:
            return im
        return ImageOps.exif_transpose(im)
    except Exception:  # noqa: BLE001 - Pillow raises many types on garbage EXIF; the pixels are still fine
        return im


def image_bytes(image: Image.Image, suffix: str = ".png", compress_level: int = 6) -> bytes:
    """A PIL image encoded in memory in the format :data:`OUTPUT_FORMATS` gives ``suffix``: PNG at zlib
    ``compress_level`` (1 is ~4x faster than 6 at 1 MP for a somewhat larger file), JPEG at quality 95 (RGB),
    lossless WebP, deflate-compressed TIFF or BMP. ``ValueError`` for any other ending."""
    fmt = OUTPUT_FORMATS.get(suffix.lower())
    if fmt is None:
        raise ValueError(f"cannot write {suffix!r} images; writable: {', '.join(OUTPUT_FORMATS)}")
    options = {"PNG": {"compress_level": compress_level}, "JPEG": {"quality": 95}, "WEBP": {"lossless": True},
               "TIFF": {"compression": "tiff_deflate"}}.get(fmt, {})
    if fmt in ("JPEG", "BMP") or (fmt in ("WEBP", "TIFF") and image.mode not in ("RGB", "RGBA")):
        image = image.convert("RGB")
    buf = io.BytesIO()
    image.save(buf, format=fmt, **options)
    return buf.getvalue()


def find_images(root: str | os.PathLike) -> list[Path]:
    """Every file under ``root`` (recursively) whose name ends in :data:`IMAGE_EXTENSIONS`, sorted."""
    root = Path(root)
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith("."):
                found.append(Path(dirpath) / name)
    return sorted(found)


# ---------------------------------------------------------------------------
# Arrays <-> tensors (the layout documented in docs/DESIGN.md "Tensors")


def model_inputs(line: np.ndarray, hint: np.ndarray, mask: np.ndarray) -> tuple[torch.Tensor, ...]:
    """The generator's three inputs from arrays in [0, 1], one image (``H×W``, ``H×W×3``, ``H×W``) or a
    batch (``N×H×W``, ``N×H×W×3``, ``N×H×W``): line ``N×1×H×W`` in [-1, 1]; hints ``N×3×H×W`` in [-1, 1],
    zero where unhinted; mask ``N×1×H×W`` in {0, 1}. The pipeline, evaluation and ONNX export use this."""
    line, hint, mask = (np.asarray(a, dtype=np.float32) for a in (line, hint, mask))
    if line.ndim == 2:
        line, hint, mask = line[None], hint[None], mask[None]
    mask_t = torch.from_numpy(np.ascontiguousarray(mask))[:, None]
    line_t = torch.from_numpy(np.ascontiguousarray(line))[:, None] * 2 - 1
    hint_t = (torch.from_numpy(np.ascontiguousarray(hint)).permute(0, 3, 1, 2) * 2 - 1) * mask_t
    return line_t, hint_t.contiguous(), mask_t


def output_colors(out: torch.Tensor) -> np.ndarray:
    """A generator's ``N×3×H×W`` output in [-1, 1] as ``N×H×W×3 float32`` RGB in [0, 1]."""
    return ((out.detach().float().clamp(-1, 1) + 1) * 0.5).permute(0, 2, 3, 1).cpu().numpy()
