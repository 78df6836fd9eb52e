"""Exact line art from vector drawings: keep the dark outline shapes, paint everything else white.

Rule (one place, documented here and in the README):

- Each painted shape's effective ``fill`` and ``stroke`` are resolved from presentation attributes,
  ``style`` declarations, simple ``<style>`` class rules (``.name{...}``) and inheritance from groups.
- A paint is *ink* when it is a plain colour whose luminance is at most :data:`DARK_LUMA` (0..255), that
  is near-neutral (channel spread at most :data:`MAX_INK_CHROMA`) or very dark, and whose opacity
  (element x paint) is at least 0.5. Ink paints become black; every other paint (light
  colours, gradients, patterns, translucent dark shading) becomes white, so shapes still hide what lies
  under them exactly as in the colour drawing.
- Dark *fills* count as ink too: in these sources outlines are often drawn as thin dark filled shapes
  (Inkscape "stroke to path", DiceBear silhouettes under a lighter fill). Large dark areas (black hair)
  therefore stay solid black in the line art, as spot blacks, the same as the line extractors produce
  for dark regions; drawings that are mostly ink are rejected by :func:`pair_score`'s caller.
- Shapes with a ``filter`` (blurs, drop shadows) are never ink. ``clipPath``/``mask`` contents are left
  untouched (they are geometry, not paint).

:func:`pair_score` measures whether the line art explains the colour drawing: the fraction of strong
colour edges lying within ``radius`` px of ink.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import cv2
import numpy as np

SVG_NS = "http://www.w3.org/2000/svg"
#: Highest luminance (0..255, Rec. 601) of a paint that counts as ink.
DARK_LUMA = 60
#: Highest channel spread of a dark paint that counts as ink (dark red shading and the darkest skin
#: tones are colour, not ink); paints darker than a third of DARK_LUMA are ink whatever their hue.
MAX_INK_CHROMA = 40
SHAPES = frozenset({"path", "rect", "circle", "ellipse", "polygon", "polyline", "line", "text", "tspan", "use"})
UNTOUCHED = frozenset({"clipPath", "mask", "metadata", "title", "desc", "style", "script"})
INHERITED = ("fill", "stroke", "fill-opacity", "stroke-opacity", "color")
NAMED = {"black": (0, 0, 0), "white": (255, 255, 255), "red": (255, 0, 0), "green": (0, 128, 0),
         "blue": (0, 0, 255), "yellow": (255, 255, 0), "gray": (128, 128, 128), "grey": (128, 128, 128),
         "navy": (0, 0, 128), "maroon": (128, 0, 0), "darkslategray": (47, 79, 79), "dimgray": (105, 105, 105)}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_color(value: str | None) -> tuple[int, int, int] | None:
    """An RGB triple for ``#rgb``, ``#rrggbb``, ``rgb(r, g, b)`` or a few names; None for anything else
    (``none``, gradients, unknown names)."""
    if not value:
        return None
    v = value.strip().lower()
    if v.startswith("#"):
        h = v[1:]
        if len(h) == 3:
            h = "".join(c * 2 for c in h)
        if len(h) == 6 and all(c in "0123456789abcdef" for c in h):
            return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
        return None
    m = re.fullmatch(r"rgb\(\s*([\d.]+%?)\s*,\s*([\d.]+%?)\s*,\s*([\d.]+%?)\s*\)", v)
    if m:
        return tuple(int(float(c[:-1]) * 2.55) if c.endswith("%") else int(float(c)) for c in m.groups())
    return NAMED.get(v)


def _opacity(value: str | None) -> float:
    try:
        return float(value) if value is not None else 1.0
    except ValueError:
        return 1.0


def parse_style(text: str | None) -> dict[str, str]:
    out = {}
    for decl in (text or "").split(";"):
        if ":" in decl:
            k, v = decl.split(":", 1)
            out[k.strip()] = v.strip()
    return out


def class_rules(root: ET.Element) -> dict[str, dict[str, str]]:
    """``.name{decls}`` rules of every ``<style>`` element (other selectors are ignored)."""
    rules: dict[str, dict[str, str]] = {}
    for el in root.iter():
        if _local(el.tag) == "style" and el.text:
            for names, body in re.findall(r"([^{}]+)\{([^}]*)\}", el.text):
                for sel in names.split(","):
                    sel = sel.strip()
                    if re.fullmatch(r"\.[\w-]+", sel):
                        rules.setdefault(sel[1:], {}).update(parse_style(body))
    return rules


def _own_props(el: ET.Element, rules: dict) -> dict[str, str]:
    props = {}
    for cls in (el.get("class") or "").split():
        props.update(rules.get(cls, {}))
    for key in (*INHERITED, "opacity", "filter", "stroke-width"):
        if el.get(key) is not None:
            props[key] = el.get(key)
    props.update(parse_style(el.get("style")))
    return props


def is_ink(paint: str | None, opacity: float, context_color: str | None = None) -> bool:
    """Whether a resolved paint is a dark, mostly opaque plain colour."""
    if paint is not None and paint.strip().lower() == "currentcolor":
        paint = context_color or "black"
    rgb = parse_color(paint)
    if rgb is None or opacity < 0.5:
        return False
    luma = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    return luma <= DARK_LUMA and (max(rgb) - min(rgb) <= MAX_INK_CHROMA or luma <= DARK_LUMA / 3)


def _rewrite(el: ET.Element, inherited: dict, rules: dict, counts: dict) -> None:
    name = _local(el.tag)
    if name in UNTOUCHED:
        return
    own = _own_props(el, rules)
    ctx = {**inherited, **{k: v for k, v in own.items() if k in INHERITED}}
    opacity = inherited.get("_opacity", 1.0) * _opacity(own.get("opacity"))
    filtered = inherited.get("_filtered", False) or own.get("filter", "none") not in ("none", "")
    ctx["_opacity"], ctx["_filtered"] = opacity, filtered
    if name in SHAPES:
        style = parse_style(el.get("style"))
        fill = ctx.get("fill", "black")  # SVG's initial fill is black
        stroke = ctx.get("stroke", "none")
        fill_op = opacity * _opacity(ctx.get("fill-opacity"))
        stroke_op = opacity * _opacity(ctx.get("stroke-opacity"))
        if fill.strip().lower() != "none":
            ink = not filtered and is_ink(fill, fill_op, ctx.get("color"))
            style["fill"] = "#000000" if ink else "#ffffff"
            counts["ink_fill" if ink else "white"] += 1
        if stroke.strip().lower() != "none":
            ink = not filtered and is_ink(stroke, stroke_op, ctx.get("color"))
            style["stroke"] = "#000000" if ink else "#ffffff"
            counts["ink_stroke" if ink else "white"] += 1
        style.pop("filter", None)
        el.set("style", ";".join(f"{k}:{v}" for k, v in style.items()))
        for key in ("fill", "stroke", "filter"):
            el.attrib.pop(key, None)
    for child in el:
        _rewrite(child, ctx, rules, counts)


UNITS_PX = {"px": 1.0, "mm": 96 / 25.4, "cm": 96 / 2.54, "in": 96.0, "pt": 96 / 72, "pc": 16.0}


def fix_root_size(root: ET.Element) -> None:
    """Rewrite the root's ``width``/``height`` in absolute units to px (this resvg refuses mm, cm, ...);
    drop percentages when a ``viewBox`` gives the size."""
    for key in ("width", "height"):
        value = (root.get(key) or "").strip()
        m = re.fullmatch(r"([\d.eE+-]+)\s*(px|mm|cm|in|pt|pc)?", value)
        if m:
            try:
                root.set(key, f"{float(m.group(1)) * UNITS_PX[m.group(2) or 'px']:.3f}")
            except ValueError:
                root.attrib.pop(key, None)
        elif value and root.get("viewBox"):
            root.attrib.pop(key, None)


def _parse(svg_text: str | bytes) -> ET.Element:
    for prefix, uri in (("", SVG_NS), ("xlink", "http://www.w3.org/1999/xlink")):
        ET.register_namespace(prefix, uri)
    root = ET.fromstring(svg_text)
    fix_root_size(root)
    return root


def colour_svg(svg_text: str | bytes) -> str:
    """The drawing as is, with its root size normalized for resvg."""
    return ET.tostring(_parse(svg_text), encoding="unicode")


def line_art_svg(svg_text: str | bytes) -> tuple[str, dict[str, int]]:
    """The line-art version of an SVG document and counts of rewritten paints
    (``ink_fill``, ``ink_stroke``, ``white``). Raises ``ET.ParseError`` for malformed XML."""
    root = _parse(svg_text)
    counts = {"ink_fill": 0, "ink_stroke": 0, "white": 0}
    rules = class_rules(root)
    for el in root.iter():  # gradients and patterns never reach the line art as colour
        if _local(el.tag) == "stop":
            el.set("style", "stop-color:#ffffff")
    _rewrite(root, {}, rules, counts)
    return ET.tostring(root, encoding="unicode"), counts


# ---------------------------------------------------------------------------
# Scoring a rendered pair


def ink_mask(line: np.ndarray, threshold: int = 128) -> np.ndarray:
    """Boolean ink mask of a greyscale ``uint8`` line image."""
    return line < threshold


def colour_edges(color: np.ndarray, threshold: float = 48.0) -> np.ndarray:
    """Pixels where the colour drawing changes strongly (max over channels of the Sobel magnitude)."""
    grads = []
    for c in range(3):
        ch = color[..., c].astype(np.float32)
        gx = cv2.Sobel(ch, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(ch, cv2.CV_32F, 0, 1, ksize=3)
        grads.append(np.hypot(gx, gy) / 4.0)
    return np.max(grads, axis=0) > threshold


def pair_score(color: np.ndarray, line: np.ndarray, radius: int = 2) -> float:
    """Fraction of strong colour edges within ``radius`` px of ink; 0 when there is no ink or no edge."""
    ink = ink_mask(line)
    edges = colour_edges(color)
    if not ink.any() or not edges.any():
        return 0.0
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    near = cv2.dilate(ink.astype(np.uint8), kernel) > 0
    return float((edges & near).sum() / edges.sum())


def ink_fraction(line: np.ndarray) -> float:
    return float(ink_mask(line).mean())


# ---------------------------------------------------------------------------
# Rasterizing


def render_rgba(svg_text: str, width: int | None = None, height: int | None = None) -> np.ndarray:
    """Rasterize an SVG document at ``width`` or ``height`` px (aspect kept) on a transparent canvas;
    returns ``H×W×4 uint8``. Raises ValueError when resvg cannot render it."""
    import io

    import resvg_py
    from PIL import Image

    side = {"width": width} if width else {"height": height} if height else {}
    png = resvg_py.svg_to_bytes(svg_string=svg_text, skip_system_fonts=True, **side)
    with Image.open(io.BytesIO(bytes(png))) as im:
        return np.asarray(im.convert("RGBA"))


def content_box(alpha: np.ndarray) -> tuple[int, int, int, int] | None:
    """``(y0, y1, x0, x1)`` of the painted pixels, None when nothing is painted."""
    ys, xs = np.nonzero(alpha > 8)
    if not len(ys):
        return None
    return int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1


def render_pair_cropped(color_svg_text: str, line_svg_text: str, size: int,
                        max_zoom: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """Render a drawing and its line art so the painted content (not the page) fills ``size`` px on
    its long side; returns two ``H×W×4`` arrays cropped to the same box. Drawings placed small on a
    big page are re-rendered up to ``max_zoom`` times larger first."""
    probe = render_rgba(color_svg_text, width=size)
    if probe.shape[0] > probe.shape[1]:
        probe = render_rgba(color_svg_text, height=size)
    box = content_box(probe[..., 3])
    if box is None:
        raise ValueError("the drawing paints nothing")
    y0, y1, x0, x1 = box
    zoom = min(max_zoom, size / max(y1 - y0, x1 - x0))
    key = "width" if probe.shape[1] >= probe.shape[0] else "height"
    full = max(1, round(probe.shape[1 if key == "width" else 0] * zoom))
    color = render_rgba(color_svg_text, **{key: full})
    line = render_rgba(line_svg_text, **{key: full})
    if line.shape != color.shape:
        raise ValueError("line art and colour render to different sizes")
    box = content_box(color[..., 3])
    if box is None:
        raise ValueError("the drawing paints nothing")
    y0, y1, x0, x1 = box
    return color[y0:y1, x0:x1], line[y0:y1, x0:x1]


#: Least fraction of clearly coloured pixels (channel spread > 40) for a drawing worth colouring.
MIN_COLOURFUL = 0.02


def colourful_fraction(color: np.ndarray) -> float:
    """Fraction of pixels whose channels differ by more than 40 (not grey, black or white)."""
    spread = color.max(axis=2).astype(np.int16) - color.min(axis=2)
    return float((spread > 40).mean())
