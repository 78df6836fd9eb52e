"""User color hints from files and flags, validated, as a full-resolution hint layer.

Three forms, all in the line art's pixel coordinates:
  * a JSON list ``[{"x": .., "y": .., "color": "#rrggbb", "size": ..}, ...]`` (size optional),
  * an RGBA PNG where alpha > 0 marks a hint (same aspect ratio at another size is rescaled),
  * CLI flags ``X,Y,#RRGGBB[,SIZE]``.
Each hint is a square of side ``size`` centred on (x, y). Every problem raises
:class:`HintError` naming the offending entry; nothing is drawn from a partly valid list.
"""

from __future__ import annotations

import io
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from irodori.errors import InputError

_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
MAX_HINTS = 10_000
MAX_HINT_SIZE = 512


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


def default_hint_size(height: int, width: int) -> int:
    """A dot about as large, relative to the image, as the paper's 1-8 px patches at 512 px."""
    return max(3, round(max(height, width) / 96))


def parse_color(text, where: str) -> tuple[int, int, int]:
    if not isinstance(text, str) or not _COLOR.match(text):
        raise HintError(f"{where}: color must look like \"#rrggbb\", got {text!r}")
    return tuple(int(text[i:i + 2], 16) for i in (1, 3, 5))


def _number(value, name: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise HintError(f"{where}: {name} must be a finite number, got {value!r}")
    return float(value)


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
            raise HintError(f"{where}: expected an object with x, y, color[, size], got {e!r}")
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
        if isinstance(size, bool) or not isinstance(size, (int, float)) or size != int(size) \
                or not 1 <= size <= MAX_HINT_SIZE:
            raise HintError(f"{where}: size must be an integer in 1..{MAX_HINT_SIZE}, got {size!r}")
        hints.append(Hint(x, y, parse_color(e["color"], where), int(size)))
    return hints


def parse_hint_json(text: str | bytes, height: int, width: int, source: str = "hints") -> list[Hint]:
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HintError(f"{source}: not valid JSON ({exc})") from None
    return validate_hints(data, height, width, source)


def parse_hint_flag(text: str, height: int, width: int) -> Hint:
    parts = [p.strip() for p in text.split(",")]
    where = f"--hint {text!r}"
    if len(parts) not in (3, 4):
        raise HintError(f"{where}: expected X,Y,#RRGGBB[,SIZE]")
    entry: dict = {"color": parts[2]}
    for key, value in zip(("x", "y", "size"), parts[:2] + parts[3:]):
        try:
            entry[key] = float(value) if key != "size" else int(value)
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


def hint_layer_from_png(data: bytes | str | Path, height: int, width: int, source: str = "hint image") -> HintLayer:
    """An RGBA image whose alpha > 0 pixels are hints; rescaled (nearest) if its aspect ratio matches."""
    try:
        with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as im:
            im.load()
            rgba = im.convert("RGBA")
            had_alpha = im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as exc:
        raise HintError(f"{source}: cannot read image ({exc})") from None
    if not had_alpha:
        raise HintError(f"{source}: a hint image needs an alpha channel (alpha > 0 marks a hint); got mode {im.mode}")
    w, h = rgba.size
    if (w, h) != (width, height):
        if abs(w / h - width / height) > 0.01 * (width / height):
            raise HintError(f"{source}: its size {w}x{h} does not have the line art's aspect ratio ({width}x{height})")
        rgba = rgba.resize((width, height), Image.NEAREST)
    arr = np.asarray(rgba)
    return HintLayer(np.ascontiguousarray(arr[..., :3]), arr[..., 3] > 0)


def load_hints(path: str | Path, height: int, width: int) -> HintLayer:
    """A hint file by its content: JSON text or an image."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise HintError(f"cannot read hint file {path}: {exc.strerror or exc}") from None
    if raw[:8] == b"\x89PNG\r\n\x1a\n" or path.suffix.lower() in (".png", ".webp", ".tif", ".tiff"):
        return hint_layer_from_png(raw, height, width, str(path))
    return draw_hints(parse_hint_json(raw, height, width, str(path)), height, width)
