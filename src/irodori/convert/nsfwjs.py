"""Convert nsfwjs' InceptionV3 (npm, MIT) to safetensors: ``irodori convert-weights nsfwjs [SRC]``.

nsfwjs 4.3.0 ships a Keras InceptionV3 (2.2.4, ImageNet-initialized, fine-tuned on 5 classes:
Drawing, Hentai, Neutral, Porn, Sexy) as a TF.js *layers* model with 8-bit quantized weights in
``dist/models/inception_v3``, wrapped as JavaScript modules (read by :mod:`irodori.weights.tfjs`,
as is a plain TF.js directory).

Conversion:

* weights are dequantized as ``q * scale + min`` (uint8/uint16; float16 and float32 as stored);
* the Keras graph is walked from each ``mixedK`` concatenation back through
  Activation <- BatchNormalization <- Conv2D chains, so every conv lands on the module of
  :class:`irodori.eval.inception.InceptionV3` with the same role (``mixed0`` -> ``Mixed_5b`` ...
  ``mixed10`` -> ``Mixed_7c``), checked for kernel size, stride and padding; conv kernels
  HWIO -> OIHW; BatchNorm (``scale=False``: gamma = 1, eps = 0.001) is kept as BatchNorm;
* the classifier after the global pool (Dense 256 relu, Dense 128 relu, Dense 5 softmax) is kept
  as ``head.layers.K`` so the port can be checked against the package's classes.

The network that loads the result is :class:`irodori.eval.nsfwjs.NSFWJSInception`.
"""

from __future__ import annotations

import os
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import torch

from irodori.errors import ConvertError
from irodori.eval.inception import InceptionV3
from irodori.eval.nsfwjs import NSFWJS_CLASSES, PREPROCESSING
from irodori.npm import npm_pack
from irodori.weights.catalog import NSFWJS_INCEPTION, NSFWJS_VERSION
from irodori.weights.converted import save_converted
from irodori.weights.tfjs import TFJSModel, read_tfjs_model

MODEL_SUBDIR = "dist/models/inception_v3"


# ---------------------------------------------------------------------------
# Mapping the Keras InceptionV3 graph onto InceptionV3's modules

#: Keras concatenation -> (torch block, branch layout). A branch lists its convs in order; a nested
#: pair is the two parallel convs concatenated at the branch's end (InceptionE). An empty branch is
#: a bare max pool; a branch ending in ``branch_pool`` starts with a 3x3 average pool.
_BLOCKS = [("mixed0", "Mixed_5b", "A"), ("mixed1", "Mixed_5c", "A"), ("mixed2", "Mixed_5d", "A"),
           ("mixed3", "Mixed_6a", "B"), ("mixed4", "Mixed_6b", "C"), ("mixed5", "Mixed_6c", "C"),
           ("mixed6", "Mixed_6d", "C"), ("mixed7", "Mixed_6e", "C"), ("mixed8", "Mixed_7a", "D"),
           ("mixed9", "Mixed_7b", "E"), ("mixed10", "Mixed_7c", "E")]
_BRANCHES = {
    "A": (("branch1x1",), ("branch5x5_1", "branch5x5_2"),
          ("branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"), ("branch_pool",)),
    "B": (("branch3x3",), ("branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"), ()),
    "C": (("branch1x1",), ("branch7x7_1", "branch7x7_2", "branch7x7_3"),
          ("branch7x7dbl_1", "branch7x7dbl_2", "branch7x7dbl_3", "branch7x7dbl_4", "branch7x7dbl_5"),
          ("branch_pool",)),
    "D": (("branch3x3_1", "branch3x3_2"), ("branch7x7x3_1", "branch7x7x3_2", "branch7x7x3_3", "branch7x7x3_4"), ()),
    "E": (("branch1x1",), ("branch3x3_1", ("branch3x3_2a", "branch3x3_2b")),
          ("branch3x3dbl_1", "branch3x3dbl_2", ("branch3x3dbl_3a", "branch3x3dbl_3b")), ("branch_pool",)),
}
_STEM = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3")


class _Graph:
    def __init__(self, topology: dict):
        try:
            cfg = topology["model_config"]["config"]
            layers = cfg["layers"]
        except (KeyError, TypeError):
            raise ConvertError("the topology is not a Keras functional model (model_config.config.layers)") from None
        self.layers = {layer["name"]: layer for layer in layers}
        self.inputs: dict[str, list[str]] = {}
        for layer in layers:
            nodes = layer.get("inbound_nodes") or []
            if len(nodes) > 1:
                raise ConvertError(f"layer {layer['name']} is called more than once; not an InceptionV3 graph")
            try:
                self.inputs[layer["name"]] = [n[0] for n in nodes[0]] if nodes else []
            except (TypeError, IndexError, KeyError):
                raise ConvertError(f"layer {layer['name']}: unsupported inbound_nodes format") from None
        self.consumers: dict[str, list[str]] = {name: [] for name in self.layers}
        for name, ins in self.inputs.items():
            for i in ins:
                self.consumers.setdefault(i, []).append(name)
        self.outputs = [o[0] for o in cfg.get("output_layers", [])]

    def kind(self, name: str) -> str:
        if name not in self.layers:
            raise ConvertError(f"the graph has no layer {name!r}")
        return self.layers[name]["class_name"]

    def config(self, name: str) -> dict:
        return self.layers[name].get("config", {})

    def only_input(self, name: str) -> str:
        ins = self.inputs[name]
        if len(ins) != 1:
            raise ConvertError(f"layer {name} has {len(ins)} inputs, expected 1")
        return ins[0]

    def conv_chain(self, name: str) -> tuple[list[tuple[str, str]], str]:
        """Walk back from ``name`` over ReLU <- BatchNorm <- Conv2D units; returns the (conv, bn) pairs in
        forward order and the first layer that is not such a unit."""
        chain = []
        while self.kind(name) == "Activation":
            if self.config(name).get("activation") != "relu":
                raise ConvertError(f"{name}: activation {self.config(name).get('activation')!r}, expected relu")
            bn = self.only_input(name)
            conv = self.only_input(bn)
            if self.kind(bn) != "BatchNormalization" or self.kind(conv) != "Conv2D":
                raise ConvertError(f"{name} is not preceded by BatchNormalization <- Conv2D")
            chain.append((conv, bn))
            name = self.only_input(conv)
        return chain[::-1], name


def _check_pool(g: _Graph, name: str, kind: str, size: int, stride: int, padding: str) -> None:
    cfg = g.config(name)
    if (g.kind(name) != kind or list(cfg.get("pool_size", [])) != [size, size]
            or list(cfg.get("strides", [])) != [stride, stride] or cfg.get("padding") != padding):
        raise ConvertError(f"{name}: expected {kind} {size}x{size}/{stride} {padding}, got {g.kind(name)} {cfg}")


def _walk_block(g: _Graph, keras_name: str, layout) -> tuple[dict, str, str]:
    """Map one ``mixedK`` block: returns ({torch branch name: (conv, bn)}, block input, kind of its pool branch)."""
    if g.kind(keras_name) != "Concatenate":
        raise ConvertError(f"{keras_name} is not a concatenation")
    branch_outputs = g.inputs[keras_name]
    if len(branch_outputs) != len(layout):
        raise ConvertError(f"{keras_name} concatenates {len(branch_outputs)} branches, expected {len(layout)}")
    found, starts, pool_kind = {}, set(), ""
    for out, names in zip(branch_outputs, layout):
        if not names:  # bare max pool branch
            _check_pool(g, out, "MaxPooling2D", 3, 2, "valid")
            starts.add(g.only_input(out))
            continue
        if isinstance(names[-1], tuple):  # two parallel convs concatenated at the end (InceptionE)
            if g.kind(out) != "Concatenate" or len(g.inputs[out]) != 2:
                raise ConvertError(f"{out} should concatenate two parallel convs")
            (ca, sa), (cb, sb) = (g.conv_chain(i) for i in g.inputs[out])
            if ca[:-1] != cb[:-1] or sa != sb:
                raise ConvertError(f"the parallel convs of {out} do not share their input chain")
            chain, start = ca[:-1] + [ca[-1], cb[-1]], sa
            names = names[:-1] + names[-1]
        else:
            chain, start = g.conv_chain(out)
        if names[-1] == "branch_pool":
            kind = g.kind(start)
            if kind == "AveragePooling2D":
                _check_pool(g, start, kind, 3, 1, "same")
            elif kind == "MaxPooling2D":
                _check_pool(g, start, kind, 3, 1, "same")
            else:
                raise ConvertError(f"the pool branch of {keras_name} starts at {kind}, expected a 3x3 pool")
            pool_kind = "avg" if kind == "AveragePooling2D" else "max"
            start = g.only_input(start)
        if len(chain) != len(names):
            raise ConvertError(f"a branch of {keras_name} has {len(chain)} convs, expected {len(names)}")
        found.update(zip(names, chain))
        starts.add(start)
    if len(starts) != 1:
        raise ConvertError(f"the branches of {keras_name} start at different layers {sorted(starts)}")
    return found, starts.pop(), pool_kind


def map_keras_inception(topology: dict) -> tuple[dict[str, tuple[str, str]], list[tuple[str, str]], str]:
    """The Keras graph's conv layers by InceptionV3 module path (``Mixed_5b.branch1x1`` -> (conv, bn)), the
    classifier's Dense layers after the global pool as (name, activation), and the last block's pool kind."""
    g = _Graph(topology)
    mapping: dict[str, tuple[str, str]] = {}
    prev, pool_kind = None, ""
    for keras_name, torch_name, kind in _BLOCKS:
        found, start, pool_kind = _walk_block(g, keras_name, _BRANCHES[kind])
        if prev is not None and start != prev:
            raise ConvertError(f"{keras_name} does not follow {prev} (its input is {start})")
        if prev is None:
            stem_out = start
        mapping.update({f"{torch_name}.{k}": v for k, v in found.items()})
        prev = keras_name
    # The stem: conv units and two 3x3/2 max pools back to the input.
    stem, name, pools = [], stem_out, 0
    while g.kind(name) != "InputLayer":
        if g.kind(name) == "MaxPooling2D":
            _check_pool(g, name, "MaxPooling2D", 3, 2, "valid")
            pools += 1
            name = g.only_input(name)
            continue
        chain, name = g.conv_chain(name)
        if not chain:
            raise ConvertError(f"unexpected {g.kind(name)} layer {name} in the stem")
        stem = chain + stem
    if len(stem) != len(_STEM) or pools != 2:
        raise ConvertError(f"the stem has {len(stem)} convs and {pools} pools, expected 5 and 2")
    mapping.update(zip(_STEM, stem))
    # The head: global average pool, then Dense layers (Flatten/Dropout pass through) to the output.
    head, name = [], prev
    while True:
        nxt = g.consumers.get(name, [])
        if len(nxt) != 1:
            break
        name = nxt[0]
        kind = g.kind(name)
        if kind == "Dense":
            head.append((name, g.config(name).get("activation", "linear")))
        elif kind == "AveragePooling2D":  # global at the 299 input only if it spans the whole 8x8 map
            _check_pool(g, name, kind, 8, 8, "valid")
        elif kind not in ("GlobalAveragePooling2D", "Flatten", "Dropout", "Activation"):
            raise ConvertError(f"unexpected {kind} layer {name} after {prev}")
        elif kind == "Activation":
            if not head:
                raise ConvertError(f"activation {name} before any Dense layer")
            head[-1] = (head[-1][0], g.config(name).get("activation"))
    return mapping, head, pool_kind


def _torch_padding(cfg: dict) -> tuple[int, int] | None:
    """The symmetric PyTorch padding equal to a Keras conv's ``padding`` (None: not expressible)."""
    k, s = list(cfg.get("kernel_size", [])), list(cfg.get("strides", [1, 1]))
    if cfg.get("padding") == "valid":
        return (0, 0)
    if cfg.get("padding") == "same" and s == [1, 1] and all(x % 2 for x in k):
        return (k[0] // 2, k[1] // 2)
    return None


def _weight(weights: dict, layer: str, name: str) -> np.ndarray | None:
    for key in (f"{layer}/{name}", f"{layer}/{name}:0"):
        if key in weights:
            return weights[key]
    return None


def keras_to_state_dict(model: TFJSModel) -> tuple[dict[str, torch.Tensor], dict]:
    """Convert a TF.js Keras InceptionV3 into InceptionV3 (+ ``head.layers.K``) tensors and metadata."""
    mapping, head, pool_kind = map_keras_inception(model.topology)
    g = _Graph(model.topology)
    first = _weight(model.weights, mapping["Conv2d_1a_3x3"][0], "kernel")
    if first is None or first.shape[:3] != (3, 3, 3) or 32 % first.shape[3]:
        raise ConvertError("the first conv's kernel is missing or not 3x3x3xC with C dividing 32")
    width_div = 32 // first.shape[3]
    net = InceptionV3(num_classes=0, last_pool=pool_kind, width_div=width_div)
    modules = dict(net.named_modules())
    state: dict[str, torch.Tensor] = {}
    for path, (conv, bn) in mapping.items():
        mod = modules[path]
        ccfg, bcfg = g.config(conv), g.config(bn)
        if ccfg.get("use_bias"):
            raise ConvertError(f"{conv} has a bias; InceptionV3 convs have none")
        if (list(ccfg.get("kernel_size", [])) != list(mod.conv.kernel_size)
                or list(ccfg.get("strides", [])) != list(mod.conv.stride)
                or _torch_padding(ccfg) != tuple(mod.conv.padding)
                or list(ccfg.get("dilation_rate", [1, 1])) != [1, 1]):
            raise ConvertError(f"{conv} ({ccfg.get('kernel_size')}/{ccfg.get('strides')} {ccfg.get('padding')}) "
                               f"does not match {path} ({mod.conv})")
        if abs(float(bcfg.get("epsilon", 1e-3)) - mod.bn.eps) > 1e-9:
            raise ConvertError(f"{bn}: epsilon {bcfg.get('epsilon')} differs from {mod.bn.eps}")
        kernel = _weight(model.weights, conv, "kernel")
        if kernel is None:
            raise ConvertError(f"no weights for {conv}/kernel")
        w = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
        if tuple(w.shape) != tuple(mod.conv.weight.shape):
            raise ConvertError(f"{conv}/kernel {tuple(kernel.shape)} does not fit {path} {tuple(mod.conv.weight.shape)}")
        c = w.shape[0]
        gamma = _weight(model.weights, bn, "gamma") if bcfg.get("scale", True) else None
        beta = _weight(model.weights, bn, "beta") if bcfg.get("center", True) else None
        mean, var = _weight(model.weights, bn, "moving_mean"), _weight(model.weights, bn, "moving_variance")
        if mean is None or var is None or (bcfg.get("scale", True) and gamma is None) \
                or (bcfg.get("center", True) and beta is None):
            raise ConvertError(f"{bn}: BatchNorm weights missing")
        vec = lambda a, fill: torch.full((c,), fill) if a is None else torch.from_numpy(a.reshape(c).copy())  # noqa: E731
        state[f"{path}.conv.weight"] = w
        state[f"{path}.bn.weight"] = vec(gamma, 1.0)
        state[f"{path}.bn.bias"] = vec(beta, 0.0)
        state[f"{path}.bn.running_mean"] = vec(mean, 0.0)
        state[f"{path}.bn.running_var"] = vec(var, 1.0)
    sizes, activations = [net.num_features], []
    for i, (layer, act) in enumerate(head):
        kernel, bias = _weight(model.weights, layer, "kernel"), _weight(model.weights, layer, "bias")
        if kernel is None or kernel.shape[0] != sizes[-1]:
            raise ConvertError(f"{layer}: kernel missing or not {sizes[-1]} inputs wide")
        state[f"head.layers.{i}.weight"] = torch.from_numpy(np.ascontiguousarray(kernel.T))
        state[f"head.layers.{i}.bias"] = torch.from_numpy(bias.copy()) if bias is not None \
            else torch.zeros(kernel.shape[1])
        sizes.append(kernel.shape[1])
        activations.append(act)
    meta = {"width_div": width_div, "last_pool": pool_kind, "head_sizes": sizes, "head_activations": activations}
    return state, meta


# ---------------------------------------------------------------------------
# Fetching the package and converting


def fetch_package(workdir: Path, spec: str = f"nsfwjs@{NSFWJS_VERSION}") -> Path:
    """``npm pack SPEC`` into ``workdir``; returns the ``.tgz``."""
    return npm_pack(spec, workdir, error=ConvertError,
                    instead=f"pass --source with the nsfwjs {NSFWJS_VERSION} .tgz or an unpacked package")


def find_model_dir(source: Path, workdir: Path) -> Path:
    """The directory holding the InceptionV3 model, from a package ``.tgz``, an unpacked package, or the model dir."""
    if source.is_file():
        prefix = f"package/{MODEL_SUBDIR}/"
        try:
            with tarfile.open(source, "r:*") as tar:
                members = [m for m in tar.getmembers() if m.isfile() and m.name.startswith(prefix)]
                if not members:
                    raise ConvertError(f"{source} has no {prefix}: not an nsfwjs package")
                tar.extractall(workdir, members=members, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise ConvertError(f"cannot unpack {source}: {exc}") from None
        return workdir / "package" / MODEL_SUBDIR
    if not source.is_dir():
        raise ConvertError(f"--source {source} does not exist")
    for cand in (source, source / "package" / MODEL_SUBDIR, source / MODEL_SUBDIR, source / "models" / "inception_v3"):
        if (cand / "model.json").is_file() or (cand / "model.min.js").is_file():
            return cand
    raise ConvertError(f"{source}: no model.json or model.min.js in it or in {MODEL_SUBDIR}")


def convert_nsfwjs(source: str | os.PathLike | None = None, out: str | os.PathLike | None = None) -> Path:
    """Convert nsfwjs' InceptionV3 (``source``: package .tgz, unpacked package or model dir; None: npm pack)
    to safetensors at ``out`` (default: the cache dir). Returns the written path."""
    with tempfile.TemporaryDirectory(prefix="irodori-nsfwjs-") as tmp:
        work = Path(tmp)
        src = Path(source) if source else fetch_package(work)
        model = read_tfjs_model(find_model_dir(src, work))
        state, meta = keras_to_state_dict(model)
    meta.update(source=f"nsfwjs@{NSFWJS_VERSION}" if source is None else str(Path(source).name),
                license=NSFWJS_INCEPTION.license, classes=list(NSFWJS_CLASSES), preprocessing=PREPROCESSING)
    return save_converted(NSFWJS_INCEPTION, state, out, meta)
