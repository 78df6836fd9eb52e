"""Convert sketchKeras' published Keras ``mod.h5`` to safetensors: ``irodori convert-weights sketchkeras mod.h5``.

The HDF5 file (release 0.1 of github.com/lllyasviel/sketchKeras) is read layer by layer, its
graph (``model_config``) checked against :class:`irodori.extractors.sketchkeras.SketchKerasNet`
(kernel sizes, strides, ``same`` padding, activations, upsampling, skip order), and the Keras
layers mapped onto the network in order (``conv2d_1`` .. ``conv2d_18``, ``batch_normalization_1``
.. ``_17``), kernels HWIO -> OIHW. A weights-only file converts too, without the graph check.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np
import torch

from irodori.errors import ConvertError
from irodori.extractors.sketchkeras import WIDTHS, SketchKerasNet
from irodori.weights.catalog import SKETCHKERAS
from irodori.weights.converted import hash_source, save_converted


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def read_keras_h5(path: Path) -> tuple[list[tuple[str, dict[str, np.ndarray]]], dict | None]:
    """Layers of a Keras 2 HDF5 model or weights file, in model order: ``[(layer, {weight: array})]``,
    weight names without the layer prefix and ``:0`` (``kernel``, ``bias``, ``gamma`` ...), and the
    parsed ``model_config`` (None for a weights-only file)."""
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
