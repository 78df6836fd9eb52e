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
import json
import math
import os
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from irodori.extractors.common import (
    ConvertError, ConvertedWeights, find_converted, hash_source, load_converted, load_state_checked,
    module_device, pad_amount, rgb_uint8, save_converted, torch_threads,
)

SKETCHKERAS = ConvertedWeights(
    name="sketchkeras",
    filename="sketchkeras-mod.safetensors",
    env_var="IRODORI_SKETCHKERAS",
    format="irodori-sketchkeras",
    source_filename="mod.h5",
    source_url="https://github.com/lllyasviel/sketchKeras/releases/download/0.1/mod.h5",
    description="the sketchKeras line extractor (lllyasviel, 2017)",
    license="no license stated by the upstream repository",
)

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
    file = find_converted(SKETCHKERAS, path)
    st = file.stat()
    return _load_cached(str(file.resolve()), st.st_mtime_ns, st.st_size, str(device))


@functools.lru_cache(maxsize=2)
def _load_cached(path: str, mtime_ns: int, size: int, device: str) -> SketchKerasNet:
    tensors, meta = load_converted(SKETCHKERAS, Path(path))
    net = SketchKerasNet(width_div=int(meta.get("width_div", 1)), eps=float(meta.get("bn_eps", 1e-3)))
    load_state_checked(net, tensors, Path(path))
    return net.eval().requires_grad_(False).to(device)


# ---------------------------------------------------------------------------
# Converting the Keras mod.h5


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def read_keras_h5(path: Path) -> tuple[list[tuple[str, dict[str, np.ndarray]]], dict | None]:
    """Layers of a Keras 2 HDF5 model or weights file, in model order: ``[(layer, {weight: array})]``,
    weight names without the layer prefix and ``:0`` (``kernel``, ``bias``, ``gamma`` ...), and the
    parsed ``model_config`` (None for a weights-only file)."""
    try:
        import h5py
    except ImportError:
        raise ConvertError("reading a Keras .h5 file needs h5py (pip install h5py)") from None
    try:
        with h5py.File(path, "r") as f:
            group = f["model_weights"] if "model_weights" in f else f
            if "layer_names" not in group.attrs:
                raise ConvertError(f"{path} is not a Keras HDF5 model: no layer_names attribute")
            layers = []
            for lname in map(_text, group.attrs["layer_names"]):
                lg = group[lname]
                weights = {}
                for wname in map(_text, lg.attrs.get("weight_names", [])):
                    short = wname.split("/")[-1].split(":")[0]
                    weights[short] = np.asarray(lg[wname], dtype=np.float32)
                layers.append((lname, weights))
            raw = f.attrs.get("model_config")
            config = json.loads(_text(raw)) if raw is not None else None
    except (OSError, KeyError) as exc:
        raise ConvertError(f"cannot read {path} as a Keras HDF5 file: {exc}") from None
    return layers, config


def _inbound(layer: dict) -> list[str]:
    """Names of a layer's inputs in a Keras 2 config (``[[[name, 0, 0, {}], ...]]``) or a later one."""
    nodes = layer.get("inbound_nodes") or []
    if nodes and isinstance(nodes[0], list):
        return [n[0] for n in nodes[0]]
    found = []

    def walk(o):
        if isinstance(o, dict):
            if "keras_history" in o:
                found.append(o["keras_history"][0])
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
    walk(nodes)
    return found


def check_keras_graph(config: dict, net: SketchKerasNet, conv_names: list[str]) -> float:
    """Check the Keras graph against :class:`SketchKerasNet`; returns the BatchNormalization epsilon."""
    layers = config.get("config", {}).get("layers")
    if not isinstance(layers, list):
        raise ConvertError("model_config has no layer list")
    by_class: dict[str, list[dict]] = {}
    for layer in layers:
        by_class.setdefault(layer.get("class_name"), []).append(layer)
    allowed = {"InputLayer", "Conv2D", "BatchNormalization", "Activation", "ReLU", "UpSampling2D", "Concatenate"}
    if set(by_class) - allowed:
        raise ConvertError(f"unexpected layer types {sorted(set(by_class) - allowed)} for sketchKeras")
    problems = []
    convs = {layer["name"]: layer["config"] for layer in by_class.get("Conv2D", [])}
    for name, conv in zip(conv_names, net.convs()):
        c = convs.get(name, {})
        want = dict(kernel_size=list(conv.kernel_size), strides=list(conv.stride), padding="same", activation="linear")
        got = {k: (list(c.get(k)) if isinstance(c.get(k), (list, tuple)) else c.get(k)) for k in want}
        if got != want or list(c.get("dilation_rate", [1, 1])) != [1, 1]:
            problems.append(f"{name}: {got}, expected {want}")
    eps = {float(layer["config"].get("epsilon", 1e-3)) for layer in by_class.get("BatchNormalization", [])}
    if len(eps) > 1:
        problems.append(f"BatchNormalization epsilons differ: {sorted(eps)}")
    act_layers = by_class.get("Activation", []) + by_class.get("ReLU", [])
    acts = [layer["config"].get("activation", "relu") for layer in act_layers]
    if acts != ["relu"] * len(net.norms()):
        problems.append(f"activations {sorted(set(acts))} x {len(acts)}, expected relu x {len(net.norms())}")
    ups = by_class.get("UpSampling2D", [])
    if len(ups) != 4 or any(list(u["config"].get("size", [2, 2])) != [2, 2]
                            or u["config"].get("interpolation", "nearest") != "nearest" for u in ups):
        problems.append("expected 4 nearest-neighbour UpSampling2D layers of size 2")
    order = {layer["name"]: i for i, layer in enumerate(layers)}
    cats = by_class.get("Concatenate", [])
    if len(cats) != 5:
        problems.append(f"{len(cats)} Concatenate layers, expected 5")
    for cat in cats:
        names = _inbound(cat)
        if cat["config"].get("axis", -1) not in (-1, 3) or len(names) != 2:
            problems.append(f"{cat['name']}: not a channel concatenation of two inputs")
        elif not order.get(names[0], -1) < order.get(names[1], -1):
            problems.append(f"{cat['name']}: the skip connection is not its first input ({names})")
    if problems:
        raise ConvertError("the Keras graph is not the sketchKeras U-Net this package implements:\n  "
                           + "\n  ".join(problems))
    return eps.pop() if eps else 1e-3


def keras_to_state_dict(layers: list[tuple[str, dict[str, np.ndarray]]], config: dict | None
                        ) -> tuple[dict[str, torch.Tensor], dict]:
    """Map the Keras layers onto :class:`SketchKerasNet` (kernels HWIO -> OIHW); tensors and metadata."""
    convs = [(n, w) for n, w in layers if "kernel" in w]
    norms = [(n, w) for n, w in layers if "moving_mean" in w]
    other = [n for n, w in layers if w and "kernel" not in w and "moving_mean" not in w]
    if other:
        raise ConvertError(f"unexpected weights in layers {other[:5]}")
    if not convs or convs[0][1]["kernel"].shape[:3] != (3, 3, 1) or WIDTHS[0] % convs[0][1]["kernel"].shape[3]:
        raise ConvertError("the first layer is not a 3x3 conv of one input channel with a width dividing 32")
    width_div = WIDTHS[0] // convs[0][1]["kernel"].shape[3]
    eps = 1e-3
    probe = SketchKerasNet(width_div=width_div)
    if len(convs) != len(probe.convs()) or len(norms) != len(probe.norms()):
        raise ConvertError(f"{len(convs)} convs and {len(norms)} BatchNormalizations, expected "
                           f"{len(probe.convs())} and {len(probe.norms())}")
    if config is not None:
        eps = check_keras_graph(config, probe, [n for n, _ in convs])
    net = SketchKerasNet(width_div=width_div, eps=eps)
    for (name, w), conv in zip(convs, net.convs()):
        kernel = torch.from_numpy(np.ascontiguousarray(w["kernel"].transpose(3, 2, 0, 1)))
        if kernel.shape != conv.weight.shape or "bias" not in w or w["bias"].shape != tuple(conv.bias.shape):
            raise ConvertError(f"{name}: kernel {w['kernel'].shape} (HWIO) / bias does not fit "
                               f"{tuple(conv.weight.shape)} (OIHW)")
        conv.weight.data.copy_(kernel)
        conv.bias.data.copy_(torch.from_numpy(w["bias"]))
    for (name, w), bn in zip(norms, net.norms()):
        c = bn.num_features
        fields = {"weight": w.get("gamma", np.ones(c, np.float32)), "bias": w.get("beta", np.zeros(c, np.float32)),
                  "running_mean": w["moving_mean"], "running_var": w.get("moving_variance")}
        for attr, value in fields.items():
            if value is None or value.shape != (c,):
                raise ConvertError(f"{name}: {attr} missing or not {c} wide")
            getattr(bn, attr).data.copy_(torch.from_numpy(value))
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    meta = {"width_div": width_div, "bn_eps": eps, "graph_checked": config is not None,
            "keras_layers": [n for n, _ in convs + norms]}
    return state, meta


def convert_sketchkeras(source: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """Convert the published Keras ``mod.h5`` to safetensors at ``out`` (default: the cache dir)."""
    source = Path(source)
    digest = hash_source(SKETCHKERAS, source)
    layers, config = read_keras_h5(source)
    state, meta = keras_to_state_dict(layers, config)
    meta.update(source=source.name, source_sha256=digest, source_url=SKETCHKERAS.source_url,
                license=SKETCHKERAS.license,
                preprocessing="per RGB channel: (I - GaussianBlur(I, sigma 3)) / max over channels; "
                              "the channels as a batch; output max over channels, < 0.1 -> 0, 1 - v")
    return save_converted(SKETCHKERAS, state, out, meta)
