"""User color hints, validated, as a hint layer at the line art's size: the one path every entry point takes.

Forms, all in the line art's pixel coordinates:
  * a JSON list ``[{"x": .., "y": .., "color": "#rrggbb", "size": ..}, ...]`` (size optional), as text,
    bytes, a file, or the decoded list of dicts,
  * an RGBA image where alpha > 0 marks a hint (same aspect ratio at another size is rescaled), as bytes
    or a file,
  * CLI flags ``X,Y,#RRGGBB[,SIZE]``,
  * a :class:`HintLayer` or a list of :class:`Hint`.
:func:`hint_layer` takes any of them, :func:`merge_hints` combines layers, :func:`resize_hints` brings
a layer to the model's working size. Each hint is a square of side ``size`` centred on (x, y). Every
problem raises :class:`HintError` naming the offending entry; nothing is drawn from a partly valid list.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from irodori.config import decimal_number, whole_number
from irodori.colorize.imageio import open_image
from irodori.errors import InputError, TooLarge, UnreadableImage
from irodori.userfiles import read_bytes

_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
MAX_HINTS = 10_000
MAX_HINT_SIZE = 512
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: A hint image larger than this is refused before it is decoded (about 7000 x 7000).
MAX_HINT_IMAGE_PIXELS = 50_000_000
#: Hints may paint at most this many times the line art's area (at least MIN_HINT_AREA pixels) in all:
#: far past any real use, it bounds the work a hint list asks for before any of it is done.
HINT_AREA_FACTOR = 16
MIN_HINT_AREA = 1 << 22


class HintError(InputError):
    """Malformed, out-of-bounds or otherwise unusable hints."""


@dataclass(frozen=True)
class Hint:
    x: float
    y: float
    color: tuple[int, int, int]
    size: int


@dataclass
class HintLayer:
    """Hints drawn at the line art's size: ``rgb`` H×W×3 uint8 and ``mask`` H×W bool."""

    rgb: np.ndarray
    mask: np.ndarray

    @classmethod
    def empty(cls, height: int, width: int) -> "HintLayer":
        return cls(np.zeros((height, width, 3), np.uint8), np.zeros((height, width), bool))

    def __len__(self) -> int:
        return int(self.mask.sum())


def layer_from_floats(rgb: np.ndarray, mask: np.ndarray) -> HintLayer:
    """A hint layer from float arrays (``H×W×3`` colors in [0, 1], ``H×W`` mask, hinted where > 0.5),
    colors rounded to the nearest 8-bit level: how evaluations and benchmarks hand hints to the pipeline."""
    return HintLayer((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8), np.asarray(mask) > 0.5)


def default_hint_size(height: int, width: int) -> int:
    """A dot about as large, relative to the image, as the paper's 1-8 px patches at 512 px."""
    return max(3, round(max(height, width) / 96))


def parse_color(text, where: str) -> tuple[int, int, int]:
    if not isinstance(text, str) or not _COLOR.fullmatch(text):
        raise HintError(f"{where}: color must look like \"#rrggbb\", got {_short(text)}")
    return tuple(int(text[i:i + 2], 16) for i in (1, 3, 5))


def _number(value, name: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise HintError(f"{where}: {name} must be a finite number, got {_short(value)}")
    try:
        number = float(value)  # an int past float's range raises OverflowError
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise HintError(f"{where}: {name} must be a finite number, got {_short(value)}")
    return number


def _short(value, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def validate_hints(entries, height: int, width: int, source: str = "hints") -> list[Hint]:
    """Check a decoded JSON value against the line art's size; return the hints or raise HintError."""
    if not isinstance(entries, list):
        raise HintError(f"{source}: expected a JSON list of {{\"x\", \"y\", \"color\", \"size\"}} objects, "
                        f"got {type(entries).__name__}")
    if len(entries) > MAX_HINTS:
        raise HintError(f"{source}: {len(entries)} hints is more than the limit of {MAX_HINTS}")
    hints = []
    for i, e in enumerate(entries):
        where = f"{source}: hint #{i}"
        if not isinstance(e, dict):
            raise HintError(f"{where}: expected an object with x, y, color[, size], got {_short(e)}")
        unknown = set(e) - {"x", "y", "color", "size"}
        missing = {"x", "y", "color"} - set(e)
        if missing:
            raise HintError(f"{where}: missing {', '.join(sorted(missing))}")
        if unknown:
            raise HintError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (allowed: x, y, color, size)")
        x, y = _number(e["x"], "x", where), _number(e["y"], "y", where)
        if not (0 <= x < width and 0 <= y < height):
            raise HintError(f"{where}: point ({x:g}, {y:g}) lies outside the {width}x{height} line art")
        size = e.get("size", default_hint_size(height, width))
        if isinstance(size, bool) or not isinstance(size, (int, float)) or not 1 <= size <= MAX_HINT_SIZE \
                or size != int(size):  # the range check first: NaN and infinities fail it, as do huge ints
            raise HintError(f"{where}: size must be an integer in 1..{MAX_HINT_SIZE}, got {_short(size)}")
        hints.append(Hint(x, y, parse_color(e["color"], where), int(size)))
    painted = sum(min(h.size, height) * min(h.size, width) for h in hints)
    if painted > max(HINT_AREA_FACTOR * height * width, MIN_HINT_AREA):
        raise HintError(f"{source}: the hints paint {painted / (height * width):.0f}x the line art's area; "
                        f"the limit is {HINT_AREA_FACTOR}x (fewer or smaller hints)")
    return hints


def parse_hint_json(text: str | bytes, height: int, width: int, source: str = "hints") -> list[Hint]:
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HintError(f"{source}: not valid JSON ({exc})") from None
    except RecursionError:
        raise HintError(f"{source}: the JSON is nested too deeply (hints are a flat list of objects)") from None
    return validate_hints(data, height, width, source)


def parse_hint_flag(text: str, height: int, width: int) -> Hint:
    parts = [p.strip() for p in text.split(",")]
    where = f"--hint {text!r}"
    if len(parts) not in (3, 4):
        raise HintError(f"{where}: expected X,Y,#RRGGBB[,SIZE]")
    entry: dict = {"color": parts[2]}
    for key, value in zip(("x", "y", "size"), parts[:2] + parts[3:]):
        try:
            entry[key] = decimal_number(value) if key != "size" else whole_number(value)
        except ValueError:
            raise HintError(f"{where}: {key} must be a number, got {value!r}") from None
    return validate_hints([entry], height, width, where)[0]


def draw_hints(hints: list[Hint], height: int, width: int) -> HintLayer:
    layer = HintLayer.empty(height, width)
    for h in hints:
        x0 = int(math.floor(h.x - (h.size - 1) / 2))
        y0 = int(math.floor(h.y - (h.size - 1) / 2))
        xs, ys = slice(max(0, x0), min(width, x0 + h.size)), slice(max(0, y0), min(height, y0 + h.size))
        layer.rgb[ys, xs] = h.color
        layer.mask[ys, xs] = True
    return layer


def hint_layer_from_image(data: bytes | str | os.PathLike, height: int, width: int, source: str = "hint image",
                          max_pixels: int = MAX_HINT_IMAGE_PIXELS) -> HintLayer:
    """An RGBA image whose alpha > 0 pixels are hints; rescaled (nearest) if its aspect ratio matches.
    Over ``max_pixels`` it is refused (:class:`TooLarge`) before its pixels are decoded."""
    try:
        im = open_image(data, max_pixels, what=source, formats=None)
    except UnreadableImage as exc:
        raise HintError(f"{source}: cannot read image ({exc})") from None
    except TooLarge:
        raise
    except InputError as exc:
        raise HintError(str(exc)) from None
    had_alpha = im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
    if not had_alpha:
        raise HintError(f"{source}: a hint image needs an alpha channel (alpha > 0 marks a hint); got mode {im.mode}")
    rgba = im.convert("RGBA")
    w, h = rgba.size
    if (w, h) != (width, height):
        if abs(w / h - width / height) > 0.01 * (width / height):
            raise HintError(f"{source}: its size {w}x{h} does not have the line art's aspect ratio ({width}x{height})")
        rgba = rgba.resize((width, height), Image.NEAREST)
    arr = np.asarray(rgba)
    return HintLayer(np.ascontiguousarray(arr[..., :3]), arr[..., 3] > 0)


def _from_bytes(raw: bytes, height: int, width: int, source: str, max_pixels: int) -> HintLayer:
    """Bytes by their content: an image (PNG signature, or not UTF-8 text) or JSON text."""
    if not raw.startswith(PNG_MAGIC):
        try:
            text = raw.decode("utf-8-sig")  # a byte-order mark (Windows editors write one) is not JSON
        except UnicodeDecodeError:
            text = None
        if text is not None:
            return _from_text(text, height, width, source)
    return hint_layer_from_image(raw, height, width, source, max_pixels)


def _from_text(text: str, height: int, width: int, source: str) -> HintLayer:
    text = text.removeprefix("\ufeff")  # a byte-order mark, as a form field may carry it
    if not text.strip():
        return HintLayer.empty(height, width)
    return draw_hints(parse_hint_json(text, height, width, source), height, width)


def _from_file(path: Path, height: int, width: int, max_pixels: int) -> HintLayer:
    raw = read_bytes(path, "hint file", HintError)  # a FIFO or a device is refused, not read
    if not raw.startswith(PNG_MAGIC) and path.suffix.lower() in (".png", ".webp", ".tif", ".tiff"):
        return hint_layer_from_image(raw, height, width, str(path), max_pixels)
    return _from_bytes(raw, height, width, str(path), max_pixels)


def hint_layer(source, height: int, width: int, *, name: str = "hints",
               max_pixels: int = MAX_HINT_IMAGE_PIXELS) -> HintLayer:
    """Any accepted hint source as a new layer at the line art's ``height`` x ``width``.

    ``None`` or blank text: no hints. ``str``: JSON text. ``bytes``: an image file's bytes or UTF-8 JSON
    text (by content). A path (:class:`os.PathLike`): a hint file, JSON or image (by content). A list of
    dicts: the decoded JSON. A list of ``str``: CLI flags ``X,Y,#RRGGBB[,SIZE]``. A list of :class:`Hint`.
    A :class:`HintLayer` of the line art's size (returned as is). ``name`` labels errors."""
    if source is None:
        return HintLayer.empty(height, width)
    if isinstance(source, HintLayer):
        if source.mask.shape != (height, width):
            raise HintError(f"{name}: hint layer is {source.mask.shape[1]}x{source.mask.shape[0]}, "
                            f"the line art {width}x{height}")
        return source  # the pipeline only reads layers; merge_hints makes new ones
    if isinstance(source, str):
        return _from_text(source, height, width, name)
    if isinstance(source, (bytes, bytearray)):
        return _from_bytes(bytes(source), height, width, name, max_pixels)
    if isinstance(source, os.PathLike):
        return _from_file(Path(source), height, width, max_pixels)
    if isinstance(source, (list, tuple)):
        if source and all(isinstance(h, Hint) for h in source):
            return draw_hints(list(source), height, width)
        if source and all(isinstance(h, str) for h in source):
            return draw_hints([parse_hint_flag(h, height, width) for h in source], height, width)
        return draw_hints(validate_hints(list(source), height, width, name), height, width)
    raise HintError(f"{name}: expected JSON text, an image, a file, a list of hints or a HintLayer, "
                    f"got {type(source).__name__}")


def merge_hints(*layers: HintLayer) -> HintLayer:
    """One layer from several of the same size; where they overlap, later layers win."""
    out = HintLayer(layers[0].rgb.copy(), layers[0].mask.copy())
    for layer in layers[1:]:
        out.rgb[layer.mask] = layer.rgb[layer.mask]
        out.mask |= layer.mask
    return out


def resize_hints(layer: HintLayer, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Hint layer at the working size ``h`` x ``w``: (RGB H×W×3 float32 in [0, 1], mask H×W float32 in {0, 1}).
    Every hint survives (a hinted pixel marks the cell it falls in), colored with the mean of the hinted
    pixels only."""
    mask = layer.mask.astype(np.float32)
    rgb = layer.rgb.astype(np.float32) / 255.0 * mask[..., None]
    H, W = mask.shape
    interp = cv2.INTER_AREA if (h < H or w < W) else cv2.INTER_NEAREST
    m = cv2.resize(mask, (w, h), interpolation=interp)
    c = cv2.resize(rgb, (w, h), interpolation=interp)
    hit = m > 1e-6
    color = np.where(hit[..., None], c / np.maximum(m, 1e-6)[..., None], 0.0)
    return np.clip(color, 0, 1).astype(np.float32), hit.astype(np.float32)
