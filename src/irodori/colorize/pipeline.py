"""The colorization pipeline (diffusers style): ``Colorizer.from_pretrained(...)(lineart, hints)``.

Works at any size and aspect: the model runs at a working resolution (its own
training scale by default, long side a multiple of 16), its flat colors are
upsampled, and the original line art is multiplied back at full resolution.
The CLI and the web app are thin wrappers over this.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
import torch
from PIL import Image

from irodori.colorize.claims import claim_regions, hint_report
from irodori.colorize.flats import DEFAULT_SHADING, compose
from irodori.colorize.hint_input import HintLayer, hint_layer, resize_hints
from irodori.colorize.imageio import model_inputs, open_image, output_colors, to_rgb_array, upright
from irodori.colorize.model_files import model_files
from irodori.colorize.onnx_backend import OnnxGenerator, cached_onnx_generator
from irodori.colorize.options import BACKENDS, ColorizeOptions, check_choice
from irodori.colorize.precision import as_input, prepare_generator, resolve_precision
from irodori.colorize.regions import Regions, SegmentCache, segment
from irodori.config import RESOLUTION_RANGE, Config
from irodori.errors import ConfigError, InputError, TooLarge
from irodori.release import load_release, load_run_generator

#: Refuse inputs larger than this many pixels (about 7000 x 7000).
MAX_PIXELS = 50_000_000
#: Line art thinner than this (short side, px) or longer than MAX_ASPECT times its width is refused.
MIN_SIDE = 8
MAX_ASPECT = 32


@dataclass
class ColorizeResult:
    """All at the input size. ``image``: the colored illustration (RGB) = ``flats`` ⊙ ``shading`` ⊙ lines;
    ``line``: the line layer (RGBA, black with alpha = ink); ``flats``: one flat color per line-art region
    (RGB); ``shading``: the model's light and shadow over the flats (RGB, a multiply layer); ``hints``: the
    hints as given (RGBA, alpha = hinted); ``mode``: how the flats were chosen (:mod:`irodori.colorize.flats`);
    ``regions``: the line art's region labels (H×W int32, 1..n); ``report``: what each hint did and
    ``hint_count`` how many hints (connected pieces) there are (:func:`irodori.colorize.claims.hint_report`);
    ``resolution``: the working long side the model ran at."""

    image: Image.Image
    line: Image.Image
    flats: Image.Image
    shading: Image.Image
    hints: Image.Image
    mode: str
    regions: np.ndarray | None = None
    report: list = field(default_factory=list)
    hint_count: int = 0
    resolution: int = 0


def lineart_to_unit(lineart, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Any line art (path, file bytes, PIL image, uint8/float array) as H×W float32 in [0, 1], white = 1."""
    if isinstance(lineart, (str, os.PathLike, bytes)):
        lineart = open_image(lineart, max_pixels)  # upright already
    elif isinstance(lineart, Image.Image):
        if lineart.width * lineart.height > max_pixels:
            raise TooLarge(f"{lineart.width}x{lineart.height} is over the limit of {max_pixels / 1e6:.0f} MP")
        lineart = upright(lineart)
    if isinstance(lineart, Image.Image):
        lineart = to_rgb_array(lineart)
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
    h, w = arr.shape
    if min(h, w) < MIN_SIDE or max(h, w) > MAX_ASPECT * min(h, w):
        raise InputError(f"line art of {w}x{h} is too thin to colorize: it needs at least {MIN_SIDE} px on its "
                         f"short side and at most {MAX_ASPECT}:1 sides")
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


class Colorizer:
    """A trained generator plus everything needed to apply it to any line art."""

    def __init__(self, generator: torch.nn.Module, config: Config, meta: dict | None = None,
                 device: str | torch.device = "cpu", max_pixels: int = MAX_PIXELS, precision: str = "fp32"):
        """``generator``: a torch module, or any callable with its ``(line, hint, mask, flat=True)``
        signature such as :class:`irodori.colorize.onnx_backend.OnnxGenerator` (which runs on the CPU, in fp32).

        ``precision``: ``fp32`` (default; the numbers evaluation reports), ``bf16``, or ``auto`` (bf16
        where the hardware computes it natively; see :mod:`irodori.colorize.precision`). A torch module is
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
        self.segments = SegmentCache()  # the regions of the last drawings: previews differ only in their hints

    @classmethod
    def from_pretrained(cls, path_or_name: str | os.PathLike = "demo", device: str | torch.device = "cpu",
                        backend: str = "torch", **kwargs) -> "Colorizer":
        """A bundled model name (``demo``), a ``.safetensors`` release file (config as ``.json`` next to it),
        a directory holding ``model.safetensors``, a training run directory (its newest EMA generator), or
        an ``.onnx`` file written by ``irodori export-onnx`` (ONNX backend only); what each means is
        :func:`irodori.colorize.model_files.model_files`.

        ``backend="onnx"`` runs the generator with ONNX Runtime on the CPU: the model is exported once
        and cached under the irodori cache dir (see :func:`irodori.colorize.onnx_backend.cached_onnx_generator`)."""
        check_choice("backend", backend, BACKENDS, ConfigError)
        key = str(path_or_name)
        if key.lower().endswith(".onnx"):
            if backend != "onnx":
                raise ConfigError(f"{key} is an ONNX model: load it with backend='onnx'")
            G = OnnxGenerator(key)
            return cls(G, G.config, {**G.metadata, "source": key}, device, **kwargs)
        G, cfg, meta = cls._load_torch(key, "cpu" if backend == "onnx" else device)
        if backend == "onnx":
            G = cached_onnx_generator(G, cfg)
        return cls(G, cfg, meta, device, **kwargs)

    @classmethod
    def load(cls, path_or_name: str | os.PathLike, options: ColorizeOptions, device: str | torch.device = "cpu",
             **kwargs) -> "Colorizer":
        """:meth:`from_pretrained` with the backend and precision ``options`` name (ONNX Runtime in fp32,
        :attr:`~irodori.colorize.options.ColorizeOptions.generator_precision`): how the CLI, the server and
        ``irodori bench`` load one."""
        return cls.from_pretrained(path_or_name, device, backend=options.backend,
                                   precision=options.generator_precision, **kwargs)

    @staticmethod
    def _load_torch(key: str, device) -> tuple[torch.nn.Module, Config, dict]:
        files = model_files(key)
        if files.run:
            cfg, G, meta = load_run_generator(files.weights, device)
        else:
            cfg, G, meta = load_release(files.weights, device)
        return G, cfg, meta

    @property
    def native_size(self) -> int:
        """The working long side when none is asked for: the scale the model's drawings were trained at,
        recorded in its release (``native_size``; a stage trained on crops keeps its drawings' scale),
        else its training size."""
        return int(self.meta.get("native_size") or self.config.data.size)

    @torch.inference_mode()
    def __call__(self, lineart, hints=None, *, resolution: int | None = None, flats: str = "regions",
                 shading: float = DEFAULT_SHADING, max_gap: int | None = None) -> ColorizeResult:
        """Colorize ``lineart`` (path, file bytes, PIL image or array) with ``hints`` (any source
        :func:`irodori.colorize.hint_input.hint_layer` takes: a :class:`HintLayer`, JSON text, a list of hints, a
        hint file's path, an RGBA image's bytes, CLI-style flags). ``resolution``: the working long side (default:
        :data:`irodori.config.WORKING_SIZE`). ``flats``: ``regions`` (default: a region a hint claims takes the hint's
        color, the model colors the rest), ``hints-only`` (unhinted regions stay white) or ``model`` (the
        model's own colors everywhere); see :mod:`irodori.colorize.flats`. ``shading`` in [0, 1]: how much of the
        model's light and shadow shows over a hint's flat color. ``max_gap``: widest gap in a line (px)
        that still closes a region (default: scaled with the image, :func:`irodori.colorize.regions.default_max_gap`).
        The generators are deterministic: nothing here is drawn at random. The options are checked
        (:class:`irodori.colorize.options.ColorizeOptions`) before the line art is read."""
        options = ColorizeOptions(flats, shading, max_gap, resolution)
        line = lineart_to_unit(lineart, self.max_pixels)
        return self.colorize(line, hint_layer(hints, *line.shape), options)

    @torch.inference_mode()
    def colorize(self, line: np.ndarray, layer: HintLayer, options: ColorizeOptions = ColorizeOptions()
                 ) -> ColorizeResult:
        """:meth:`__call__` for inputs already decoded: ``line`` as :func:`lineart_to_unit` returns it, ``layer``
        at its size (:func:`irodori.colorize.hint_input.hint_layer`). For callers that decode them first (the web app)."""
        long_side = options.long_side
        result = self.compose(line, layer, self.model_colors(line, layer, long_side), options.flats,
                              options.shading, options.max_gap, regions=self.segments(line, options.max_gap))
        return replace(result, resolution=long_side)

    @staticmethod
    def compose(line: np.ndarray, layer: HintLayer, model: np.ndarray, flats: str = "regions",
                shading: float = DEFAULT_SHADING, max_gap: int | None = None, *, regions: Regions | None = None
                ) -> ColorizeResult:
        """The result from the model's colors (:meth:`model_colors`): regions (found here unless given, as
        :func:`irodori.colorize.regions.segment` finds them for ``line`` and ``max_gap``), claims, flats, shading,
        layers."""
        H, W = line.shape
        regions = segment(line, max_gap) if regions is None else regions
        hint_rgb = layer.rgb.astype(np.float32) / 255.0
        claims = claim_regions(regions, hint_rgb, layer.mask)
        layers = compose(model, line, regions, claims, flats, shading)
        report, hint_count = hint_report(regions, claims, layer.mask)
        to8 = lambda a: (np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)  # noqa: E731
        line_rgba = np.zeros((H, W, 4), np.uint8)
        line_rgba[..., 3] = to8(1 - line)
        hints_rgba = np.concatenate([layer.rgb, (layer.mask * 255).astype(np.uint8)[..., None]], axis=2)
        return ColorizeResult(Image.fromarray(to8(layers.image), "RGB"), Image.fromarray(line_rgba, "RGBA"),
                              Image.fromarray(to8(layers.flats), "RGB"), Image.fromarray(to8(layers.shading), "RGB"),
                              Image.fromarray(hints_rgba, "RGBA"), flats, regions.labels, report, hint_count)

    def model_colors(self, line: np.ndarray, layer: HintLayer, resolution: int | None = None) -> np.ndarray:
        """The generator's colors before the lines (H×W×3 in [0, 1], the line art's size), computed at the
        working resolution and upsampled. A tanh model paints its own lines: its output is returned as is."""
        H, W = line.shape
        long_side = resolution or self.native_size
        if not RESOLUTION_RANGE[0] <= long_side <= RESOLUTION_RANGE[1]:
            raise InputError(f"resolution must lie in {RESOLUTION_RANGE[0]}..{RESOLUTION_RANGE[1]}, got {long_side}")
        h, w = working_size(H, W, long_side, getattr(self.generator, "multiple", 16))
        interp = cv2.INTER_AREA if (h < H or w < W) else cv2.INTER_LINEAR
        line_lr = cv2.resize(line, (w, h), interpolation=interp)
        hint_lr, mask_lr = resize_hints(layer, h, w)
        inputs = [as_input(t, self.dtype, self.device) for t in model_inputs(line_lr, hint_lr, mask_lr)]
        flat_lr = output_colors(self.generator(*inputs, flat=True))[0]
        flat = cv2.resize(flat_lr, (W, H), interpolation=cv2.INTER_CUBIC) if (h, w) != (H, W) else flat_lr
        return np.clip(flat, 0, 1)
