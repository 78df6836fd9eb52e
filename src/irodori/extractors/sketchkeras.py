"""sketchKeras (lllyasviel, 2017): a U-Net that draws line art from a high-passed illustration.

The network
-----------
The published Keras model ``mod.h5`` (release 0.1 of github.com/lllyasviel/sketchKeras) is an
all-convolutional U-Net on one channel; every conv has a bias and TensorFlow ``same`` (zero)
padding, and all but the last are followed by BatchNormalization (epsilon 1e-3) and ReLU::

    d1 = 3x3 32                    (H)        u1 = up2(cat(d5, d6)) -> 4x4 512, 3x3 256   (H/8)
    d2 = 4x4/2 64,  3x3 64         (H/2)      u2 = up2(cat(d4, u1)) -> 4x4 256, 3x3 128   (H/4)
    d3 = 4x4/2 128, 3x3 128        (H/4)      u3 = up2(cat(d3, u2)) -> 4x4 128, 3x3 64    (H/2)
    d4 = 4x4/2 256, 3x3 256        (H/8)      u4 = up2(cat(d2, u3)) -> 4x4 64,  3x3 32    (H)
    d5 = 4x4/2 512                 (H/16)     out = 3x3 1 on cat(d1, u4), linear
    d6 = 3x3 512                   (H/16)

``up2`` is nearest-neighbour UpSampling2D; a 4x4 stride-1 ``same`` conv pads 1 before and 2 after
(TensorFlow puts the odd pixel at the end). Keras names the layers ``conv2d_1`` .. ``conv2d_18``
and ``batch_normalization_1`` .. ``_17`` in this order. (higumax/sketchKeras-pytorch, a port of
the same file, uses reflection padding; Keras' ``same`` is zero padding, which is what is done here.)

Pre- and post-processing (the authors' ``main.py`` / ``helper.py``)
------------------------------------------------------------------
Each color channel separately: ``high = I_c - GaussianBlur(I_c, sigma=3)`` (the blur rounded to
uint8, OpenCV's default reflect-101 border), divided by 128 and then by the maximum over all three
channels (so the /128 cancels). The three channels go through the network as a batch of three
one-channel images, zero-padded at the bottom/right (to 512x512 in the original, here to the next
multiple of 16). The output is cropped, the maximum over the three channels taken (line
strength, 1 = ink), values under ``threshold`` zeroed (0.1 is the authors' "enhanced" output, 0.18
"pured", 0 the plain one), and inverted to white paper: ``clip(1 - v, 0, 1)``. The authors first
resize the image to 512 px on its long side because their Keras input was a fixed 512x512; the
network is fully convolutional, so here it runs at the image's own size.
"""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from irodori.extractors.common import module_device, pad_amount, rgb_uint8, torch_threads
from irodori.weights import SKETCHKERAS, load_converted, load_state_checked, resolve

#: Default threshold on line strength: the authors' "enhanced" output.
DEFAULT_THRESHOLD = 0.1
WIDTHS = (32, 64, 128, 256, 512)


# ---------------------------------------------------------------------------
# The network


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow's ``same`` zero padding: the odd padding pixel goes bottom/right."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1):
        super().__init__(cin, cout, kernel, stride, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for n, k, s in zip(reversed(x.shape[-2:]), reversed(self.kernel_size), reversed(self.stride)):
            total = max((math.ceil(n / s) - 1) * s + k - n, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


class ConvBNReLU(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, eps: float = 1e-3):
        super().__init__()
        self.conv = SameConv2d(cin, cout, kernel, stride)
        self.bn = nn.BatchNorm2d(cout, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class SketchKerasNet(nn.Module):
    """The sketchKeras U-Net: ``(N, 1, H, W)`` high-pass input -> ``(N, 1, H, W)`` line strength.

    H and W must be multiples of :attr:`multiple`. ``width_div`` divides every width (tests).
    """

    multiple = 16

    def __init__(self, width_div: int = 1, eps: float = 1e-3):
        super().__init__()
        if any(w % width_div for w in WIDTHS):
            raise ValueError(f"width_div {width_div} does not divide the widths {WIDTHS}")
        c0, c1, c2, c3, c4 = (w // width_div for w in WIDTHS)
        self.width_div, self.eps = width_div, eps

        def block(*specs):
            return nn.Sequential(*(ConvBNReLU(i, o, k, s, eps) for i, o, k, s in specs))

        self.down = nn.ModuleList([
            block((1, c0, 3, 1)),
            block((c0, c1, 4, 2), (c1, c1, 3, 1)),
            block((c1, c2, 4, 2), (c2, c2, 3, 1)),
            block((c2, c3, 4, 2), (c3, c3, 3, 1)),
            block((c3, c4, 4, 2)),
            block((c4, c4, 3, 1)),
        ])
        self.up = nn.ModuleList([
            block((2 * c4, c4, 4, 1), (c4, c3, 3, 1)),
            block((2 * c3, c3, 4, 1), (c3, c2, 3, 1)),
            block((2 * c2, c2, 4, 1), (c2, c1, 3, 1)),
            block((2 * c1, c1, 4, 1), (c1, c0, 3, 1)),
        ])
        self.out = SameConv2d(2 * c0, 1, 3)

    def extra_repr(self) -> str:
        return f"width_div={self.width_div}, eps={self.eps}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = []
        for stage in self.down:
            x = stage(x)
            feats.append(x)
        d1, d2, d3, d4, d5, _ = feats
        for stage, skip in zip(self.up, (d5, d4, d3, d2)):
            x = stage(F.interpolate(torch.cat([skip, x], 1), scale_factor=2, mode="nearest"))
        return self.out(torch.cat([d1, x], 1))

    def convs(self) -> list[nn.Conv2d]:
        """The convolutions in Keras' order (conv2d_1 .. conv2d_18)."""
        return [m for m in self.modules() if isinstance(m, SameConv2d)]

    def norms(self) -> list[nn.BatchNorm2d]:
        return [m for m in self.modules() if isinstance(m, nn.BatchNorm2d)]


# ---------------------------------------------------------------------------
# Pre- and post-processing, extraction


def sketchkeras_input(rgb: np.ndarray) -> np.ndarray | None:
    """The authors' high-pass: ``3×H×W float32``, each channel minus its sigma-3 blur, over the global max.

    None when the image has no positive high-pass anywhere (flat): it has no lines.
    """
    blur = cv2.GaussianBlur(rgb, (0, 0), 3)  # uint8 in, uint8 out, per channel: as the authors
    high = rgb.astype(np.float32)
    high -= blur
    high *= 1.0 / 128.0
    peak = float(high.max())
    if peak <= 0:
        return None
    high *= 1.0 / peak
    return np.ascontiguousarray(high.transpose(2, 0, 1))


def sketchkeras_lines(net: SketchKerasNet, high: np.ndarray, threads: int | None = 1) -> np.ndarray:
    """Run the network on the ``3×H×W`` high-pass as a batch of three; ``3×H×W`` line strength."""
    _, h, w = high.shape
    x = torch.from_numpy(high)[:, None]
    x = F.pad(x, (0, pad_amount(w, net.multiple), 0, pad_amount(h, net.multiple)))  # zeros, as the authors
    with torch_threads(threads), torch.inference_mode():
        y = net(x.to(module_device(net)))
    return y[:, 0, :h, :w].float().cpu().numpy()


def sketchkeras_lineart(lines: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """``3×H×W`` line strength -> ``H×W float32`` line art in [0, 1], white paper = 1."""
    v = lines.max(axis=0)
    v[v < threshold] = 0.0
    out = 1.0 - v
    np.clip(out, 0.0, 1.0, out=out)
    return out.astype(np.float32, copy=False)


def extract_sketchkeras(image: np.ndarray, rng: np.random.Generator | None = None, *,
                        net: SketchKerasNet | None = None, threshold: float = DEFAULT_THRESHOLD,
                        threads: int | None = 1) -> np.ndarray:
    """sketchKeras line art of an RGB image (any size) as ``H×W float32`` in [0, 1], white paper = 1.

    ``net`` defaults to the converted weights (:func:`load_sketchkeras`, loaded once per process).
    Deterministic: ``rng`` is accepted for the extractor interface and not used.
    """
    rgb = rgb_uint8(image)
    high = sketchkeras_input(rgb)
    if high is None:
        return np.ones(rgb.shape[:2], np.float32)
    net = load_sketchkeras() if net is None else net
    return sketchkeras_lineart(sketchkeras_lines(net, high, threads), threshold)


# ---------------------------------------------------------------------------
# Loading the converted weights


def load_sketchkeras(path: str | os.PathLike | None = None, device: str | torch.device = "cpu") -> SketchKerasNet:
    """The converted network in eval mode, loaded once per process (and file, and device)."""
    file = resolve(SKETCHKERAS, path)
    st = file.stat()
    return _load_cached(str(file.resolve()), st.st_mtime_ns, st.st_size, str(device))


@functools.lru_cache(maxsize=2)
def _load_cached(path: str, mtime_ns: int, size: int, device: str) -> SketchKerasNet:
    tensors, meta = load_converted(SKETCHKERAS, Path(path))
    net = SketchKerasNet(width_div=int(meta.get("width_div", 1)), eps=float(meta.get("bn_eps", 1e-3)))
    load_state_checked(net, tensors, path)
    return net.eval().requires_grad_(False).to(device)
