"""The colorization pipeline (diffusers style): ``Colorizer.from_pretrained(...)(lineart, hints)``.

Works at any size and aspect: the model runs at a working resolution (its own
training scale by default, long side a multiple of 16), its flat colors are
upsampled, and the original line art is multiplied back at full resolution.
The CLI and the web app are thin wrappers over this.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image, ImageOps

from irodori.config import Config
from irodori.data.imageio import to_rgb_array
from irodori.errors import ConfigError, InputError, IrodoriError
from irodori.flats import DEFAULT_SHADING, FLATS_MODES, claim_regions, compose
from irodori.hint_input import HintLayer, draw_hints, validate_hints, Hint
from irodori.regions import segment
from irodori.inference import as_input, prepare_generator, resolve_precision

#: Refuse inputs larger than this many pixels (about 7000 x 7000).
MAX_PIXELS = 50_000_000
ASSET_DIR = Path(__file__).parent / "assets" / "models"
#: Bundled models: name -> file in irodori/assets/models (config next to it as .json).
BUNDLED = {"demo": "demo.safetensors"}
#: How the generator runs: the torch module, or its ONNX export in ONNX Runtime (CPU).
BACKENDS = ("torch", "onnx")


@dataclass
class ColorizeResult:
    """All at the input size. ``image``: the colored illustration (RGB) = ``flats`` ⊙ ``shading`` ⊙ lines;
    ``line``: the line layer (RGBA, black with alpha = ink); ``flats``: one flat color per line-art region
    (RGB); ``shading``: the model's light and shadow over the flats (RGB, a multiply layer); ``hints``: the
    hints as given (RGBA, alpha = hinted); ``mode``: how the flats were chosen (:mod:`irodori.flats`)."""

    image: Image.Image
    line: Image.Image
    flats: Image.Image
    shading: Image.Image
    hints: Image.Image
    mode: str


def open_image(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open an image file, refusing oversized ones before decoding them."""
    try:
        im = Image.open(path)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InputError(f"{path}: not a readable image ({exc})") from None
    w, h = im.size
    if w * h > max_pixels:
        raise InputError(f"{path}: {w}x{h} is {w * h / 1e6:.1f} MP, over the limit of {max_pixels / 1e6:.0f} MP")
    try:
        im.load()
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InputError(f"{path}: the image data is corrupt or truncated ({exc})") from None
    return im


def lineart_to_unit(lineart, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Any line art (path, PIL image, uint8/float array) as H×W float32 in [0, 1], white = 1."""
    if isinstance(lineart, (str, os.PathLike)):
        lineart = open_image(lineart, max_pixels)
    if isinstance(lineart, Image.Image):
        if lineart.width * lineart.height > max_pixels:
            raise InputError(f"{lineart.width}x{lineart.height} is over the limit of {max_pixels / 1e6:.0f} MP")
        lineart = to_rgb_array(ImageOps.exif_transpose(lineart))
    arr = np.asarray(lineart)
    if arr.ndim == 3 and arr.shape[2] == 4:
        a = arr[..., 3:4].astype(np.float32) / (255.0 if arr.dtype == np.uint8 else 1.0)
        arr = arr[..., :3] * a + (255 if arr.dtype == np.uint8 else 1.0) * (1 - a)
    if arr.ndim == 3 and arr.shape[2] == 3:
        arr = arr.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    elif arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim != 2 or min(arr.shape) < 1:
        raise InputError(f"line art must be an image, got an array of shape {np.shape(lineart)}")
    if arr.size > max_pixels:
        raise InputError(f"line art of {arr.size / 1e6:.1f} MP is over the limit of {max_pixels / 1e6:.0f} MP")
    scale = 255.0 if (np.asarray(lineart).dtype == np.uint8 or arr.max() > 1.0) else 1.0
    return np.clip(arr.astype(np.float32) / scale, 0, 1)


def working_size(height: int, width: int, long_side: int, multiple: int = 16) -> tuple[int, int]:
    """(h, w) with the long side ``long_side`` (rounded to ``multiple``) and the aspect ratio kept."""
    long_side = max(multiple, int(round(long_side / multiple)) * multiple)
    scale = long_side / max(height, width)
    h = max(multiple, int(round(height * scale / multiple)) * multiple)
    w = max(multiple, int(round(width * scale / multiple)) * multiple)
    return h, w


def resize_hints(layer: HintLayer, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Hint layer at the working size: every hint survives (a hinted pixel marks the cell it falls in),
    colored with the mean of the hinted pixels only."""
    mask = layer.mask.astype(np.float32)
    rgb = layer.rgb.astype(np.float32) / 255.0 * mask[..., None]
    H, W = mask.shape
    interp = cv2.INTER_AREA if (h < H or w < W) else cv2.INTER_NEAREST
    m = cv2.resize(mask, (w, h), interpolation=interp)
    c = cv2.resize(rgb, (w, h), interpolation=interp)
    hit = m > 1e-6
    color = np.where(hit[..., None], c / np.maximum(m, 1e-6)[..., None], 0.0)
    return np.clip(color, 0, 1).astype(np.float32), hit.astype(np.float32)


class Colorizer:
    """A trained generator plus everything needed to apply it to any line art."""

    def __init__(self, generator: torch.nn.Module, config: Config, meta: dict | None = None,
                 device: str | torch.device = "cpu", max_pixels: int = MAX_PIXELS, precision: str = "fp32"):
        """``generator``: a torch module, or any callable with its ``(line, hint, mask, flat=True)``
        signature such as :class:`irodori.onnx_backend.OnnxGenerator` (which runs on the CPU, in fp32).

        ``precision``: ``fp32`` (default; the numbers evaluation reports), ``bf16``, or ``auto`` (bf16
        where the hardware computes it natively; see :mod:`irodori.inference`). A torch module is
        converted in place (dtype, and channels-last on the CPU)."""
        if isinstance(generator, torch.nn.Module):
            generator, self.dtype = prepare_generator(generator, device, precision)
        else:
            if torch.device(device).type != "cpu":
                raise ConfigError(f"{type(generator).__name__} runs on the CPU; got device {device}")
            resolve_precision(precision, device)  # validates the name
            if precision == "bf16":
                raise ConfigError(f"{type(generator).__name__} runs in fp32 only; got precision {precision}")
            self.dtype = torch.float32
        self.generator = generator
        self.config = config
        self.meta = meta or {}
        self.device = torch.device(device)
        self.max_pixels = max_pixels

    @classmethod
    def from_pretrained(cls, path_or_name: str | os.PathLike = "demo", device: str | torch.device = "cpu",
                        backend: str = "torch", **kwargs) -> "Colorizer":
        """A bundled model name (``demo``), a ``.safetensors`` release file (config as ``.json`` next to it),
        a directory holding ``model.safetensors``, a training run directory (its newest EMA generator), or
        an ``.onnx`` file written by ``irodori export-onnx`` (ONNX backend only).

        ``backend="onnx"`` runs the generator with ONNX Runtime on the CPU: the model is exported once
        and cached under the irodori cache dir (see :func:`irodori.onnx_backend.cached_onnx_generator`)."""
        if backend not in BACKENDS:
            raise ConfigError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        key = str(path_or_name)
        if key.lower().endswith(".onnx"):
            if backend != "onnx":
                raise ConfigError(f"{key} is an ONNX model: load it with backend='onnx'")
            from irodori.onnx_backend import OnnxGenerator

            G = OnnxGenerator(key)
            return cls(G, G.config, {**G.metadata, "source": key}, device, **kwargs)
        G, cfg, meta = cls._load_torch(key, "cpu" if backend == "onnx" else device)
        if backend == "onnx":
            from irodori.onnx_backend import cached_onnx_generator

            G = cached_onnx_generator(G, cfg)
        return cls(G, cfg, meta, device, **kwargs)

    @staticmethod
    def _load_torch(key: str, device) -> tuple[torch.nn.Module, Config, dict]:
        from irodori.release import load_release

        if key in BUNDLED:
            path = ASSET_DIR / BUNDLED[key]
            if not path.is_file():
                raise IrodoriError(f"the bundled model {key!r} is not in this installation ({path} is missing)")
        else:
            path = Path(key)
            if path.is_dir():
                if (path / "checkpoints").is_dir():
                    return Colorizer._load_run_dir(path, device)
                path = path / "model.safetensors"
        cfg, G, meta = load_release(path, device)
        return G, cfg, meta

    @staticmethod
    def _load_run_dir(run_dir: Path, device) -> tuple[torch.nn.Module, Config, dict]:
        from irodori.config import config_from_dict
        from irodori.models import build_generator
        from irodori.train import checkpoint as ckpt

        latest = ckpt.find_latest(run_dir / "checkpoints")
        if latest is None:
            raise IrodoriError(f"no readable checkpoint in {run_dir / 'checkpoints'}")
        state = ckpt.load_checkpoint(latest)
        cfg = config_from_dict(state["config"])
        G = build_generator(cfg.generator)
        G.load_state_dict(state["G_ema"])
        return G.to(device).eval(), cfg, {"step": state["step"], "source": str(latest)}

    @property
    def native_size(self) -> int:
        return self.config.data.size

    def hint_layer(self, hints, height: int, width: int) -> HintLayer:
        if hints is None:
            return HintLayer.empty(height, width)
        if isinstance(hints, HintLayer):
            if hints.mask.shape != (height, width):
                raise InputError(f"hint layer is {hints.mask.shape[1]}x{hints.mask.shape[0]}, "
                                 f"the line art {width}x{height}")
            return hints
        if isinstance(hints, list) and all(isinstance(h, Hint) for h in hints):
            return draw_hints(hints, height, width)
        return draw_hints(validate_hints(hints, height, width), height, width)

    @torch.inference_mode()
    def __call__(self, lineart, hints=None, *, resolution: int | None = None, flats: str = "regions",
                 shading: float = DEFAULT_SHADING, max_gap: int | None = None,
                 generator: torch.Generator | None = None) -> ColorizeResult:
        """Colorize ``lineart`` (path, PIL image or array) with ``hints`` (a :class:`HintLayer`, a list of
        :class:`Hint`, or the JSON-style list of dicts). ``resolution``: the working long side (default:
        the model's training size). ``flats``: ``regions`` (default: a region a hint claims takes the hint's
        color, the model colors the rest), ``hints-only`` (unhinted regions stay white) or ``model`` (the
        model's own colors everywhere); see :mod:`irodori.flats`. ``shading`` in [0, 1]: how much of the
        model's light and shadow shows over a hint's flat color. ``max_gap``: widest gap in a line (px)
        that still closes a region (default: scaled with the image, :func:`irodori.regions.default_max_gap`).
        ``generator`` is accepted for API symmetry with stochastic pipelines; these generators are
        deterministic and do not draw from it."""
        if flats not in FLATS_MODES:
            raise InputError(f"flats must be one of {', '.join(FLATS_MODES)}, got {flats!r}")
        if not (isinstance(shading, (int, float)) and 0 <= shading <= 1):
            raise InputError(f"shading must lie in [0, 1], got {shading!r}")
        if max_gap is not None and not 0 <= max_gap <= 64:
            raise InputError(f"max_gap must lie in 0..64 px, got {max_gap}")
        line = lineart_to_unit(lineart, self.max_pixels)
        H, W = line.shape
        layer = self.hint_layer(hints, H, W)
        return self.compose(line, layer, self.model_colors(line, layer, resolution), flats, shading, max_gap)

    @staticmethod
    def compose(line: np.ndarray, layer: HintLayer, model: np.ndarray, flats: str = "regions",
                shading: float = DEFAULT_SHADING, max_gap: int | None = None) -> ColorizeResult:
        """The result from the model's colors (:meth:`model_colors`): regions, claims, flats, shading, layers."""
        H, W = line.shape
        regions = segment(line, max_gap)
        hint_rgb = layer.rgb.astype(np.float32) / 255.0
        claims = claim_regions(regions, hint_rgb, layer.mask)
        layers = compose(model, line, regions, claims, flats, shading)
        to8 = lambda a: (np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)  # noqa: E731
        line_rgba = np.zeros((H, W, 4), np.uint8)
        line_rgba[..., 3] = to8(1 - line)
        hints_rgba = np.concatenate([layer.rgb, (layer.mask * 255).astype(np.uint8)[..., None]], axis=2)
        return ColorizeResult(Image.fromarray(to8(layers.image), "RGB"), Image.fromarray(line_rgba, "RGBA"),
                              Image.fromarray(to8(layers.flats), "RGB"), Image.fromarray(to8(layers.shading), "RGB"),
                              Image.fromarray(hints_rgba, "RGBA"), flats)

    def model_colors(self, line: np.ndarray, layer: HintLayer, resolution: int | None = None) -> np.ndarray:
        """The generator's colors before the lines (H×W×3 in [0, 1], the line art's size), computed at the
        working resolution and upsampled. A tanh model paints its own lines: its output is returned as is."""
        H, W = line.shape
        long_side = resolution or self.native_size
        if long_side < 16 or long_side > 4096:
            raise InputError(f"resolution must lie in 16..4096, got {long_side}")
        h, w = working_size(H, W, long_side, getattr(self.generator, "multiple", 16))
        interp = cv2.INTER_AREA if (h < H or w < W) else cv2.INTER_LINEAR
        line_lr = cv2.resize(line, (w, h), interpolation=interp)
        hint_lr, mask_lr = resize_hints(layer, h, w)
        to_t = lambda a: as_input(torch.from_numpy(np.ascontiguousarray(a)), self.dtype, self.device)  # noqa: E731
        line_t = to_t((line_lr * 2 - 1)[None, None])
        mask_t = to_t(mask_lr[None, None])
        hint_t = to_t((hint_lr.transpose(2, 0, 1) * 2 - 1)[None] * mask_lr[None, None])
        flat_t = self.generator(line_t, hint_t, mask_t, flat=True)
        flat_lr = ((flat_t[0].float().clamp(-1, 1) + 1) * 0.5).permute(1, 2, 0).cpu().numpy()
        flat = cv2.resize(flat_lr, (W, H), interpolation=cv2.INTER_CUBIC) if (h, w) != (H, W) else flat_lr
        return np.clip(flat, 0, 1)
