"""InceptionV3 features from the nsfwjs npm package (MIT), converted to safetensors: ``irodori convert-weights nsfwjs``.

nsfwjs 4.3.0 ships a Keras InceptionV3 (2.2.4, ImageNet-initialized, fine-tuned on 5 classes:
Drawing, Hentai, Neutral, Porn, Sexy) as a TF.js *layers* model with 8-bit quantized weights in
``dist/models/inception_v3``. The package wraps the files as JavaScript modules
(``model.min.js`` holds the model.json object, ``group1-shardKofN.min.js`` a base64 string of
each ``.bin`` shard); a plain TF.js directory (``model.json`` + ``.bin`` shards) is read as well.

Conversion:

* weights are dequantized as ``q * scale + min`` (uint8/uint16; float16 and float32 as stored);
* the Keras graph is walked from each ``mixedK`` concatenation back through
  Activation <- BatchNormalization <- Conv2D chains, so every conv lands on the module of
  :class:`irodori.eval.inception.InceptionV3` with the same role (``mixed0`` -> ``Mixed_5b`` ...
  ``mixed10`` -> ``Mixed_7c``), checked for kernel size, stride and padding; conv kernels
  HWIO -> OIHW; BatchNorm (``scale=False``: gamma = 1, eps = 0.001) is kept as BatchNorm;
* the classifier after the global pool (Dense 256 relu, Dense 128 relu, Dense 5 softmax) is kept
  as ``head.layers.K`` so the port can be checked against the package's classes.

Preprocessing is what the package does before ``model.predict``: RGB / 255 (inputs in [0, 1], not
Keras' usual [-1, 1]) and a bilinear resize to 299x299 with ``alignCorners = true``.

FID computed with these features is *not* comparable with published FID values (different
weights, trained on a different task); it only ranks models evaluated the same way.
"""

from __future__ import annotations

import base64
import json
import os
import re
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from irodori.npm import npm_pack
from irodori.atomic import atomic_path
from irodori.errors import ConvertError, WeightsError
from irodori.eval.inception import InceptionV3, load_state_dict_checked
from irodori.weights import cache_dir

NSFWJS_VERSION = "4.3.0"
NSFWJS_CLASSES = ("Drawing", "Hentai", "Neutral", "Porn", "Sexy")
CONVERTED_FILENAME = f"nsfwjs-{NSFWJS_VERSION}-inception_v3.safetensors"
ENV_VAR = "IRODORI_NSFWJS_INCEPTION"
MODEL_SUBDIR = "dist/models/inception_v3"


# ---------------------------------------------------------------------------
# JavaScript object literals (the package's model.min.js is not JSON)

_TOKEN = re.compile(r"""\s*(?:
    (?P<punct>[{}\[\]:,])
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<bang>!\s*[01])
  | (?P<ident>[A-Za-z_$][\w$]*)
)""", re.VERBOSE | re.DOTALL)
_IDENTS = {"true": True, "false": False, "null": None, "undefined": None}


class _JSParser:
    """Recursive descent over JSON plus what minifiers emit: bare keys, single quotes, ``!0``/``!1``,
    numbers like ``.5``, ``void 0``."""

    def __init__(self, text: str, pos: int = 0):
        self.text, self.pos = text, pos

    def _next(self):
        m = _TOKEN.match(self.text, self.pos)
        if not m:
            raise ConvertError(f"cannot parse the model literal near {self.text[self.pos:self.pos + 40]!r}")
        self.pos = m.end()
        return m.lastgroup, m.group(m.lastgroup)

    def _peek(self):
        saved = self.pos
        tok = self._next()
        self.pos = saved
        return tok

    @staticmethod
    def _string(raw: str) -> str:
        if raw[0] == "'":
            raw = '"' + raw[1:-1].replace('\\"', '"').replace('"', '\\"').replace("\\'", "'") + '"'
        raw = re.sub(r"\\x([0-9a-fA-F]{2})", r"\\u00\1", raw)
        return json.loads(raw)

    def value(self):
        kind, tok = self._next()
        if kind == "punct" and tok == "{":
            out = {}
            if self._peek() == ("punct", "}"):
                self._next()
                return out
            while True:
                kind, key = self._next()
                if kind == "str":
                    key = self._string(key)
                elif kind not in ("ident", "num"):
                    raise ConvertError(f"unexpected key {key!r} in the model literal")
                if self._next() != ("punct", ":"):
                    raise ConvertError(f"expected ':' after key {key!r}")
                out[key] = self.value()
                kind, tok = self._next()
                if tok == "}":
                    return out
                if tok != ",":
                    raise ConvertError(f"expected ',' or '}}' in the model literal, got {tok!r}")
        if kind == "punct" and tok == "[":
            out = []
            if self._peek() == ("punct", "]"):
                self._next()
                return out
            while True:
                out.append(self.value())
                kind, tok = self._next()
                if tok == "]":
                    return out
                if tok != ",":
                    raise ConvertError(f"expected ',' or ']' in the model literal, got {tok!r}")
        if kind == "str":
            return self._string(tok)
        if kind == "num":
            return float(tok) if any(c in tok for c in ".eE") else int(tok)
        if kind == "bang":
            return tok[-1] == "0"  # !0 is true, !1 is false
        if kind == "ident" and tok == "void":
            self.value()
            return None
        if kind == "ident" and tok in _IDENTS:
            return _IDENTS[tok]
        raise ConvertError(f"unexpected token {tok!r} in the model literal")


def parse_js_literal(text: str, start: int = 0):
    """Parse the JavaScript object/array literal that starts at ``text[start]``."""
    return _JSParser(text, start).value()


def _module_export(path: Path, what: str) -> str:
    text = path.read_text(encoding="utf-8", errors="replace")
    m = re.search(r"\.exports\s*=\s*(?=[{\"'])", text)
    if not m:
        raise ConvertError(f"{path} does not look like an nsfwjs {what} module (no `exports=`)")
    return text[m.end():]


# ---------------------------------------------------------------------------
# Reading a TF.js layers model


@dataclass
class TFJSModel:
    topology: dict
    weights: dict  # name -> float32 numpy array


_DTYPES = {"float32": np.float32, "int32": np.int32, "uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}


def dequantize(buf: bytes, spec: dict) -> np.ndarray:
    """One weight from its bytes and manifest entry (TF.js: ``value = q * scale + min`` for uint8/uint16)."""
    shape = tuple(spec["shape"])
    quant = spec.get("quantization")
    if quant:
        qtype = quant["dtype"]
        if qtype not in ("uint8", "uint16", "float16"):
            raise ConvertError(f"{spec['name']}: unsupported quantization dtype {qtype!r}")
        q = np.frombuffer(buf, _DTYPES[qtype])
        if qtype == "float16":
            out = q.astype(np.float32)
        else:
            out = q.astype(np.float64) * float(quant["scale"]) + float(quant["min"])
    else:
        dtype = spec.get("dtype", "float32")
        if dtype not in ("float32", "int32"):
            raise ConvertError(f"{spec['name']}: unsupported dtype {dtype!r}")
        out = np.frombuffer(buf, _DTYPES[dtype])
    return out.astype(np.float32).reshape(shape)


def _byte_size(spec: dict) -> int:
    dtype = (spec.get("quantization") or {}).get("dtype") or spec.get("dtype", "float32")
    if dtype not in _DTYPES:
        raise ConvertError(f"{spec.get('name')}: unsupported dtype {dtype!r}")
    return int(np.prod(spec["shape"], dtype=np.int64)) * np.dtype(_DTYPES[dtype]).itemsize


def _read_shard(model_dir: Path, name: str) -> bytes:
    plain = model_dir / name
    if plain.is_file():
        return plain.read_bytes()
    wrapped = model_dir / f"{name}.min.js"
    if wrapped.is_file():
        m = re.match(r"\s*([\"'])([A-Za-z0-9+/=\s]*)\1", _module_export(wrapped, "weight shard"))
        if not m:
            raise ConvertError(f"{wrapped}: no base64 string after `exports=`")
        return base64.b64decode(m.group(2))
    raise ConvertError(f"weight shard {name} not found in {model_dir} (as {name} or {name}.min.js)")


def read_tfjs_model(model_dir: str | os.PathLike) -> TFJSModel:
    """``model.json`` (or the package's ``model.min.js``) and its shards -> topology and float32 weights."""
    model_dir = Path(model_dir)
    if (model_dir / "model.json").is_file():
        try:
            doc = json.loads((model_dir / "model.json").read_text())
        except ValueError as exc:
            raise ConvertError(f"{model_dir / 'model.json'} is not valid JSON ({exc})") from None
    elif (model_dir / "model.min.js").is_file():
        doc = parse_js_literal(_module_export(model_dir / "model.min.js", "model"))
    else:
        raise ConvertError(f"{model_dir} holds neither model.json nor model.min.js")
    if not isinstance(doc, dict) or "modelTopology" not in doc or "weightsManifest" not in doc:
        raise ConvertError(f"{model_dir}: not a TF.js layers model (needs modelTopology and weightsManifest)")
    weights = {}
    for group in doc["weightsManifest"]:
        buf = b"".join(_read_shard(model_dir, p) for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            n = _byte_size(spec)
            if offset + n > len(buf):
                raise ConvertError(f"{model_dir}: the shards end before weight {spec['name']}")
            weights[spec["name"]] = dequantize(buf[offset:offset + n], spec)
            offset += n
        if offset != len(buf):
            raise ConvertError(f"{model_dir}: {len(buf) - offset} bytes left over in shards {group['paths']}")
    return TFJSModel(doc["modelTopology"], weights)


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
    meta = {"format": "irodori-inception-v3", "width_div": width_div, "last_pool": pool_kind,
            "head_sizes": sizes, "head_activations": activations}
    return state, meta


# ---------------------------------------------------------------------------
# The converted network


class DenseHead(nn.Module):
    """The package's classifier on the pooled features (Keras Dense layers; dropout is off at inference)."""

    def __init__(self, sizes, activations):
        super().__init__()
        if len(sizes) != len(activations) + 1 or any(a not in ("relu", "softmax", "linear") for a in activations):
            raise ValueError(f"bad head {sizes} / {activations}")
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.activations = tuple(activations)

    def forward(self, x):
        for layer, act in zip(self.layers, self.activations):
            x = layer(x)
            x = F.relu(x) if act == "relu" else x.softmax(-1) if act == "softmax" else x
        return x


class NSFWJSInception(nn.Module):
    """Images (N, 3, H, W) in [0, 1] -> bilinear 299x299 (align_corners, as nsfwjs does) -> pooled features.

    :meth:`classify` adds the package's head: class probabilities in :data:`NSFWJS_CLASSES` order.
    """

    size = 299

    def __init__(self, width_div: int = 1, last_pool: str = "avg", head_sizes=(2048, 256, 128, 5),
                 head_activations=("relu", "relu", "softmax")):
        super().__init__()
        self.net = InceptionV3(num_classes=0, last_pool=last_pool, width_div=width_div)
        self.head = DenseHead(head_sizes, head_activations) if len(head_sizes) > 1 else None

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[-2:] != (self.size, self.size):
            images = F.interpolate(images, size=(self.size, self.size), mode="bilinear", align_corners=True)
        return images

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net.features(self.preprocess(images))

    def classify(self, images: torch.Tensor) -> torch.Tensor:
        if self.head is None:
            raise WeightsError("these converted weights carry no classifier head")
        return self.head(self(images))


def _atomic_save(tensors: dict, path: Path, metadata: dict) -> None:
    from safetensors.torch import save_file

    with atomic_path(path) as tmp:
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp),
                  metadata={"irodori": json.dumps(metadata)})


def save_converted(model: NSFWJSInception, path: str | os.PathLike, **meta) -> Path:
    """Write a network in the converted-file format (InceptionV3 names, the head under ``head.``)."""
    path = Path(path)
    state = {k: v for k, v in model.net.state_dict().items() if not k.endswith("num_batches_tracked")}
    if model.head is not None:
        state.update({f"head.{k}": v for k, v in model.head.state_dict().items()})
    sizes = [model.net.num_features] + [layer.out_features for layer in (model.head.layers if model.head else [])]
    meta = {"format": "irodori-inception-v3", "width_div": model.net.width_div, "last_pool": model.net.Mixed_7c.pool,
            "head_sizes": sizes, "head_activations": list(model.head.activations) if model.head else [], **meta}
    _atomic_save(state, path, meta)
    return path


def converted_path(explicit: str | os.PathLike | None = None) -> Path:
    """Where the converted weights are looked for: explicit path -> $IRODORI_NSFWJS_INCEPTION -> cache dir."""
    if explicit:
        return Path(explicit)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    return cache_dir() / CONVERTED_FILENAME


def load_nsfwjs_inception(path: str | os.PathLike | None = None) -> NSFWJSInception:
    """The converted network in eval mode; a clear WeightsError when it has not been converted yet."""
    from safetensors import SafetensorError, safe_open

    file = converted_path(path)
    if not file.is_file():
        raise WeightsError(
            f"nsfwjs InceptionV3 weights not found at {file}.\n"
            f"  Convert them once with `irodori convert-weights nsfwjs` (runs `npm pack nsfwjs@{NSFWJS_VERSION}`; "
            f"or pass --source with the package .tgz), or set ${ENV_VAR} to a converted file.")
    try:
        with safe_open(str(file), "pt") as f:
            meta = json.loads((f.metadata() or {}).get("irodori", "{}"))
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"cannot read {file}: {exc}") from exc
    if meta.get("format") != "irodori-inception-v3":
        raise WeightsError(f"{file} is not a converted InceptionV3 (run `irodori convert-weights nsfwjs` again)")
    model = NSFWJSInception(meta["width_div"], meta["last_pool"], meta["head_sizes"], meta["head_activations"])
    # The file keeps InceptionV3's own names (as in pytorch-fid's state dict) and the head under ``head.``.
    load_state_dict_checked(model.net, {k: v for k, v in tensors.items() if not k.startswith("head.")}, str(file))
    if model.head is not None:
        load_state_dict_checked(model.head, {k[5:]: v for k, v in tensors.items() if k.startswith("head.")}, str(file))
    return model.eval().requires_grad_(False)


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
    out = Path(out) if out else cache_dir() / CONVERTED_FILENAME
    with tempfile.TemporaryDirectory(prefix="irodori-nsfwjs-") as tmp:
        work = Path(tmp)
        src = Path(source) if source else fetch_package(work)
        model = read_tfjs_model(find_model_dir(src, work))
        state, meta = keras_to_state_dict(model)
    meta.update(source=f"nsfwjs@{NSFWJS_VERSION}" if source is None else str(Path(source).name),
                license="MIT (nsfwjs, Infinite Red)", classes=list(NSFWJS_CLASSES),
                preprocessing="RGB in [0, 1] (x / 255), bilinear resize to 299 with align_corners")
    _atomic_save(state, out, meta)
    return out
