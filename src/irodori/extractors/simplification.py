"""Sketch Simplification (Simo-Serra, Iizuka & Ishikawa, TOG 2018, "Mastering Sketching"): ``model_gan``.

The network
-----------
A fully convolutional encoder-decoder on one grey channel, every layer followed by ReLU except
the last (sigmoid)::

    5x5/2 48, 3x3 128, 3x3 128, 3x3/2 128, 3x3 256, 3x3 256, 3x3/2 256,       (down to H/8)
    3x3 512, 3x3 1024, 3x3 1024 x3, 3x3 512, 3x3 256,                         (H/8)
    up 256, 3x3 256, 3x3 128, up 128, 3x3 128, 3x3 48, up 48, 3x3 24, 3x3 1   (back to H)

with zero padding ``k // 2`` and ``up`` a 4x4 stride-2 transposed conv with padding 1 (exact x2).
The authors publish it as Torch7 ``sketch_gan.t7``; its PyTorch release ``model_gan.pth`` is the
state dict of an ``nn.Sequential`` of these layers with ReLUs in between, so the convolutions
are ``0, 2, 4, ..., 44`` (``N.weight``, ``N.bias``). :class:`SketchSimplificationNet` keeps that
numbering under ``layers.``. Input normalization ``(x - mean) / std`` on grey in [0, 1] uses the
constants of the release (``immean = 0.9664...``, ``imstd = 0.0858...``), or the ``mean`` / ``std``
stored with the state dict when the file has them; they are kept in the converted file as buffers.

Pre- and post-processing
------------------------
The authors' ``simplify.py``: grey (ITU-R 601 luma) / 255, normalized, replicate-padded at the
right/bottom to a multiple of 8, the sigmoid output taken as the image (white paper = 1).
The paper (§4.1) enlarges the illustration 3x with waifu2x first, because the line thickness
follows the input resolution, and resizes the result back. waifu2x is a network of its own; here
the default enlargement is Lanczos (:func:`lanczos_upscale`), and any learned upscaler plugs in
through the ``upscaler`` argument (``(rgb uint8 HxWx3, factor) -> rgb uint8``). The result is
shrunk back with area averaging.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch
import torch.nn as nn

from irodori.extractors.common import module_device, pad_amount, rgb_uint8, torch_threads
from irodori.weights import SIMPLIFICATION, load_converted, load_state_checked, resolve

#: Input normalization of the published model_gan.
IMAGE_MEAN = 0.9664114577640158
IMAGE_STD = 0.0858381272736797
#: The paper's enlargement before extraction.
DEFAULT_SCALE = 3

#: ``(kind, in, out, kernel, stride)`` of every layer, in order ("up" = transposed conv).
LAYERS = (
    ("conv", 1, 48, 5, 2), ("conv", 48, 128, 3, 1), ("conv", 128, 128, 3, 1),
    ("conv", 128, 128, 3, 2), ("conv", 128, 256, 3, 1), ("conv", 256, 256, 3, 1),
    ("conv", 256, 256, 3, 2), ("conv", 256, 512, 3, 1), ("conv", 512, 1024, 3, 1),
    ("conv", 1024, 1024, 3, 1), ("conv", 1024, 1024, 3, 1), ("conv", 1024, 1024, 3, 1),
    ("conv", 1024, 512, 3, 1), ("conv", 512, 256, 3, 1),
    ("up", 256, 256, 4, 2), ("conv", 256, 256, 3, 1), ("conv", 256, 128, 3, 1),
    ("up", 128, 128, 4, 2), ("conv", 128, 128, 3, 1), ("conv", 128, 48, 3, 1),
    ("up", 48, 48, 4, 2), ("conv", 48, 24, 3, 1), ("conv", 24, 1, 3, 1),
)

#: ``(rgb uint8 H×W×3, factor) -> rgb uint8 (factor·H)×(factor·W)×3``.
Upscaler = Callable[[np.ndarray, int], np.ndarray]


class SketchSimplificationNet(nn.Module):
    """Grey ``(N, 1, H, W)`` in [0, 1] -> simplified line art ``(N, 1, H, W)`` in [0, 1], white = 1.

    H and W must be multiples of :attr:`multiple`. ``width_div`` divides every inner width (tests).
    """

    multiple = 8

    def __init__(self, width_div: int = 1, mean: float = IMAGE_MEAN, std: float = IMAGE_STD):
        super().__init__()

        def width(c: int) -> int:
            if c == 1:
                return 1
            if c % width_div:
                raise ValueError(f"width_div {width_div} does not divide {c}")
            return c // width_div

        self.width_div = width_div
        layers: list[nn.Module] = []
        for kind, cin, cout, k, s in LAYERS:
            if kind == "conv":
                layers.append(nn.Conv2d(width(cin), width(cout), k, s, k // 2))
            else:
                layers.append(nn.ConvTranspose2d(width(cin), width(cout), k, s, 1))
            layers.append(nn.ReLU(inplace=True))
        layers[-1] = nn.Sigmoid()
        self.layers = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))

    def extra_repr(self) -> str:
        return f"width_div={self.width_div}, mean={float(self.mean):.6f}, std={float(self.std):.6f}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers((x - self.mean) / self.std)


# ---------------------------------------------------------------------------
# Pre- and post-processing, extraction


def lanczos_upscale(rgb: np.ndarray, factor: int) -> np.ndarray:
    """The default enlargement: Lanczos (8x8 window), saturated to uint8."""
    h, w = rgb.shape[:2]
    return cv2.resize(rgb, (w * factor, h * factor), interpolation=cv2.INTER_LANCZOS4)


def simplify_grey(net: SketchSimplificationNet, grey: np.ndarray, threads: int | None = 1) -> np.ndarray:
    """Run the network on an ``H×W`` grey image in [0, 1]: replicate-padded to a multiple of 8
    at the right/bottom (as the authors), cropped back; ``H×W float32`` in [0, 1]."""
    h, w = grey.shape
    padded = np.pad(grey, ((0, pad_amount(h, net.multiple)), (0, pad_amount(w, net.multiple))), mode="edge")
    x = torch.from_numpy(np.ascontiguousarray(padded, dtype=np.float32))[None, None]
    with torch_threads(threads), torch.inference_mode():
        y = net(x.to(module_device(net)))
    return y[0, 0, :h, :w].float().cpu().numpy()


def extract_simplification(image: np.ndarray, rng: np.random.Generator | None = None, *,
                           net: SketchSimplificationNet | None = None, scale: int = DEFAULT_SCALE,
                           upscaler: Upscaler | None = None, threads: int | None = 1) -> np.ndarray:
    """Sketch Simplification line art of an RGB image (any size), ``H×W float32`` in [0, 1], white = 1.

    The image is enlarged ``scale`` times (``upscaler``, default :func:`lanczos_upscale`; the paper
    uses waifu2x), converted to grey, simplified, and shrunk back to its size (area averaging).
    ``net`` defaults to the converted weights (:func:`load_simplification`, loaded once per process).
    Deterministic: ``rng`` is accepted for the extractor interface and not used.
    """
    rgb = rgb_uint8(image)
    h, w = rgb.shape[:2]
    if scale != 1:
        rgb = (upscaler or lanczos_upscale)(rgb, scale)
        if rgb.shape != (h * scale, w * scale, 3) or rgb.dtype != np.uint8:
            raise ValueError(f"the upscaler returned {rgb.dtype} {rgb.shape}, expected uint8 "
                             f"{(h * scale, w * scale, 3)}")
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) * np.float32(1.0 / 255.0)
    net = load_simplification() if net is None else net
    out = simplify_grey(net, grey, threads)
    if scale != 1:
        out = cv2.resize(out, (w, h), interpolation=cv2.INTER_AREA)
    np.clip(out, 0.0, 1.0, out=out)
    return out


# ---------------------------------------------------------------------------
# Loading the converted weights


def load_simplification(path: str | os.PathLike | None = None,
                        device: str | torch.device = "cpu") -> SketchSimplificationNet:
    """The converted network in eval mode, loaded once per process (and file, and device)."""
    file = resolve(SIMPLIFICATION, path)
    st = file.stat()
    return _load_cached(str(file.resolve()), st.st_mtime_ns, st.st_size, str(device))


@functools.lru_cache(maxsize=2)
def _load_cached(path: str, mtime_ns: int, size: int, device: str) -> SketchSimplificationNet:
    tensors, meta = load_converted(SIMPLIFICATION, Path(path))
    net = SketchSimplificationNet(width_div=int(meta.get("width_div", 1)))
    load_state_checked(net, tensors, path)
    return net.eval().requires_grad_(False).to(device)
