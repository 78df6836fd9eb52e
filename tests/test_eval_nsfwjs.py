"""The nsfwjs converter on a tiny synthetic Keras InceptionV3 written in the package's TF.js format.

The test writes the graph the way Keras 2.2.4 names it (conv2d_K, batch_normalization_K,
activation_K, mixed0..mixed10, mixed9_0, concatenate_K), quantizes every weight to uint8 with
a per-weight min/scale, and checks the converted PyTorch network against an independent
executor of the Keras graph (TF padding rules, layer by layer).
"""

import base64
import json
import math
import random
import tarfile
from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from irodori.cli import main
from irodori.errors import ConvertError
from irodori.eval.fid import pick_feature_net
from irodori.eval.nsfwjs import NSFWJS_CLASSES, load_nsfwjs_inception
from irodori.weights import NSFWJS_INCEPTION, cache_dir
from irodori.convert.nsfwjs import convert_nsfwjs
from irodori.weights.tfjs import parse_js_literal

DIV = 16  # all InceptionV3 widths / 16


class KerasInception:
    """Builds the layer list and weights of Keras' InceptionV3 (+ an nsfwjs-like head) at 1/DIV width."""

    def __init__(self, seed=0, head=(16, 5)):
        self.rng = np.random.default_rng(seed)
        self.layers, self.weights, self.count, self.ch = [], {}, Counter(), {}
        x = self.layer("InputLayer", "input", {"batch_input_shape": [None, 299, 299, 3]}, [], ch=3)
        x = self.conv_bn(x, 32, 3, 3, 2, "valid")
        x = self.conv_bn(x, 32, 3, 3, padding="valid")
        x = self.conv_bn(x, 64, 3, 3)
        x = self.pool("MaxPooling2D", x, 3, 2, "valid")
        x = self.conv_bn(x, 80, 1, 1, padding="valid")
        x = self.conv_bn(x, 192, 3, 3, padding="valid")
        x = self.pool("MaxPooling2D", x, 3, 2, "valid")
        for i, pf in enumerate((32, 64, 64)):
            b1 = self.conv_bn(x, 64, 1, 1)
            b5 = self.conv_bn(self.conv_bn(x, 48, 1, 1), 64, 5, 5)
            b3 = self.conv_bn(self.conv_bn(self.conv_bn(x, 64, 1, 1), 96, 3, 3), 96, 3, 3)
            bp = self.conv_bn(self.pool("AveragePooling2D", x, 3, 1, "same"), pf, 1, 1)
            x = self.concat([b1, b5, b3, bp], f"mixed{i}")
        b3 = self.conv_bn(x, 384, 3, 3, 2, "valid")
        bd = self.conv_bn(self.conv_bn(self.conv_bn(x, 64, 1, 1), 96, 3, 3), 96, 3, 3, 2, "valid")
        x = self.concat([b3, bd, self.pool("MaxPooling2D", x, 3, 2, "valid")], "mixed3")
        for i, c7 in zip(range(4, 8), (128, 160, 160, 192)):
            b1 = self.conv_bn(x, 192, 1, 1)
            b7 = self.conv_bn(self.conv_bn(self.conv_bn(x, c7, 1, 1), c7, 1, 7), 192, 7, 1)
            bd = self.conv_bn(x, c7, 1, 1)
            for kh, kw, f in ((7, 1, c7), (1, 7, c7), (7, 1, c7), (1, 7, 192)):
                bd = self.conv_bn(bd, f, kh, kw)
            bp = self.conv_bn(self.pool("AveragePooling2D", x, 3, 1, "same"), 192, 1, 1)
            x = self.concat([b1, b7, bd, bp], f"mixed{i}")
        b3 = self.conv_bn(self.conv_bn(x, 192, 1, 1), 320, 3, 3, 2, "valid")
        b7 = self.conv_bn(self.conv_bn(self.conv_bn(x, 192, 1, 1), 192, 1, 7), 192, 7, 1)
        b7 = self.conv_bn(b7, 192, 3, 3, 2, "valid")
        x = self.concat([b3, b7, self.pool("MaxPooling2D", x, 3, 2, "valid")], "mixed8")
        for i in range(2):
            b1 = self.conv_bn(x, 320, 1, 1)
            b3 = self.conv_bn(x, 384, 1, 1)
            b3 = self.concat([self.conv_bn(b3, 384, 1, 3), self.conv_bn(b3, 384, 3, 1)], f"mixed9_{i}")
            bd = self.conv_bn(self.conv_bn(x, 448, 1, 1), 384, 3, 3)
            bd = self.concat([self.conv_bn(bd, 384, 1, 3), self.conv_bn(bd, 384, 3, 1)])
            bp = self.conv_bn(self.pool("AveragePooling2D", x, 3, 1, "same"), 192, 1, 1)
            x = self.concat([b1, b3, bd, bp], f"mixed{9 + i}")
        x = self.pool("AveragePooling2D", x, 8, 8, "valid")
        self.features = x = self.layer("Flatten", "flatten", {}, [x])
        for k, units in enumerate(head):
            last = k == len(head) - 1
            x = self.dense(x, units, "softmax" if last else "relu")
            if not last:
                x = self.layer("Dropout", "dropout", {"rate": 0.5}, [x])
        self.output = x

    # -- layers, named like Keras 2.2.4 (base_1, base_2, ...)
    def layer(self, cls, base, cfg, inputs, name=None, ch=None):
        if name is None:
            self.count[base] += 1
            name = f"{base}_{self.count[base]}"
        self.layers.append({"name": name, "class_name": cls, "config": {"name": name, "trainable": True, **cfg},
                            "inbound_nodes": [[[i, 0, 0, {}] for i in inputs]] if inputs else []})
        self.ch[name] = ch if ch is not None else self.ch[inputs[0]]
        return name

    def conv_bn(self, x, filters, kh, kw, strides=1, padding="same"):
        f, cin = filters // DIV, self.ch[x]
        c = self.layer("Conv2D", "conv2d", {"filters": f, "kernel_size": [kh, kw], "strides": [strides, strides],
                                            "padding": padding, "data_format": "channels_last",
                                            "dilation_rate": [1, 1], "activation": "linear", "use_bias": False},
                       [x], ch=f)
        self.weights[f"{c}/kernel"] = self.rng.normal(0, math.sqrt(2 / (kh * kw * cin)), (kh, kw, cin, f))
        b = self.layer("BatchNormalization", "batch_normalization",
                       {"axis": 3, "momentum": 0.99, "epsilon": 0.001, "center": True, "scale": False}, [c])
        self.weights[f"{b}/beta"] = self.rng.normal(0, 0.1, f)
        self.weights[f"{b}/moving_mean"] = self.rng.normal(0, 0.1, f)
        self.weights[f"{b}/moving_variance"] = self.rng.uniform(0.5, 1.5, f)
        return self.layer("Activation", "activation", {"activation": "relu"}, [b])

    def pool(self, cls, x, size, stride, padding):
        base = "max_pooling2d" if cls == "MaxPooling2D" else "average_pooling2d"
        return self.layer(cls, base, {"pool_size": [size, size], "strides": [stride, stride], "padding": padding}, [x])

    def concat(self, xs, name=None):
        return self.layer("Concatenate", "concatenate", {"axis": 3}, xs, name=name, ch=sum(self.ch[x] for x in xs))

    def dense(self, x, units, activation):
        d = self.layer("Dense", "dense", {"units": units, "activation": activation, "use_bias": True}, [x], ch=units)
        self.weights[f"{d}/kernel"] = self.rng.normal(0, math.sqrt(1 / self.ch[x]), (self.ch[x], units))
        self.weights[f"{d}/bias"] = self.rng.normal(0, 0.1, units)
        return d

    # -- TF.js files
    def quantized(self):
        """uint8 bytes and manifest entries; the dequantized values replace the float weights."""
        blobs, specs = [], []
        for name, w in self.weights.items():
            lo, hi = float(w.min()), float(w.max())
            scale = (hi - lo) / 255 or 1.0
            q = np.clip(np.round((w - lo) / scale), 0, 255).astype(np.uint8)
            self.weights[name] = q.astype(np.float64) * scale + lo
            blobs.append(q.tobytes())
            specs.append({"name": name, "shape": list(w.shape), "dtype": "float32",
                          "quantization": {"min": lo, "scale": scale, "dtype": "uint8"}})
        return b"".join(blobs), specs

    def write(self, out, form="json", shuffle=True):
        out.mkdir(parents=True, exist_ok=True)
        data, specs = self.quantized()
        half = len(data) // 2
        paths = ["group1-shard1of2", "group1-shard2of2"]
        layers = list(self.layers)
        if shuffle:  # the package lists layers in another order than Keras created them
            random.Random(0).shuffle(layers)
        doc = {"modelTopology": {"keras_version": "2.2.4", "backend": "tensorflow", "model_config": {
                   "class_name": "Model", "config": {"name": "model_1", "layers": layers,
                                                     "input_layers": [["input_1", 0, 0]],
                                                     "output_layers": [[self.output, 0, 0]]}}},
               "weightsManifest": [{"paths": paths, "weights": specs}]}
        shards = [data[:half], data[half:]]
        if form == "json":
            (out / "model.json").write_text(json.dumps(doc))
            for p, b in zip(paths, shards):
                (out / p).write_bytes(b)
        else:  # the package's browserified modules
            wrap = "!function(a){{module.exports=a()}}(function(){{return function a(n,i,e){{}}({{1:[function(a,n,i){{" \
                   "n.exports={}}},{{}}]}},{{}},[1])(1)}});"
            (out / "model.min.js").write_text(wrap.format(js_literal(doc)))
            for p, b in zip(paths, shards):
                (out / f"{p}.min.js").write_text(wrap.format('"' + base64.b64encode(b).decode() + '"'))


def js_literal(v) -> str:
    """A minifier-style JavaScript literal: bare keys, !0/!1, numbers without a leading zero."""
    if v is True:
        return "!0"
    if v is False:
        return "!1"
    if v is None:
        return "null"
    if isinstance(v, float):
        s = repr(v)
        return s.replace("0.", ".", 1) if s.startswith(("0.", "-0.")) else s
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(js_literal(x) for x in v) + "]"
    return "{" + ",".join(f"{k if k.isidentifier() else json.dumps(k)}:{js_literal(x)}" for k, x in v.items()) + "}"


# ---------------------------------------------------------------------------
# An independent executor of the Keras graph (NCHW tensors, TF padding rules)


def _same(n, k, s):
    total = max((math.ceil(n / s) - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def _pad(x, k, s, padding, value=0.0):
    if padding == "valid":
        return x
    (t, b), (left, r) = _same(x.shape[2], k[0], s[0]), _same(x.shape[3], k[1], s[1])
    return F.pad(x, (left, r, t, b), value=value)


def run_keras(model: KerasInception, x: torch.Tensor) -> dict:
    by = {layer["name"]: layer for layer in model.layers}
    w = {k: torch.from_numpy(v).double() for k, v in model.weights.items()}
    out = {}

    def ev(name):
        if name in out:
            return out[name]
        layer = by[name]
        cfg, kind = layer["config"], layer["class_name"]
        ins = [ev(n[0]) for n in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
        if kind == "InputLayer":
            y = x
        elif kind == "Conv2D":
            k, s = cfg["kernel_size"], cfg["strides"]
            y = F.conv2d(_pad(ins[0], k, s, cfg["padding"]), w[f"{name}/kernel"].permute(3, 2, 0, 1), stride=s)
        elif kind == "BatchNormalization":
            c = lambda v: v.view(1, -1, 1, 1)  # noqa: E731
            y = (ins[0] - c(w[f"{name}/moving_mean"])) / torch.sqrt(c(w[f"{name}/moving_variance"]) + cfg["epsilon"])
            y = y + c(w[f"{name}/beta"])
        elif kind == "Activation":
            y = ins[0].clamp_min(0)
        elif kind in ("MaxPooling2D", "AveragePooling2D"):
            k, s = cfg["pool_size"], cfg["strides"]
            if kind == "MaxPooling2D":
                y = F.max_pool2d(_pad(ins[0], k, s, cfg["padding"], float("-inf")), k, s)
            else:  # TF's average pool counts only real pixels
                ones = torch.ones_like(ins[0][:, :1])
                y = F.avg_pool2d(_pad(ins[0], k, s, cfg["padding"]), k, s) / F.avg_pool2d(
                    _pad(ones, k, s, cfg["padding"]), k, s)
        elif kind == "Concatenate":
            y = torch.cat(ins, 1)
        elif kind == "Flatten":
            y = ins[0].permute(0, 2, 3, 1).flatten(1)
        elif kind == "Dense":
            y = ins[0] @ w[f"{name}/kernel"] + w[f"{name}/bias"]
            y = y.clamp_min(0) if cfg["activation"] == "relu" else y.softmax(-1)
        elif kind == "Dropout":
            y = ins[0]
        else:
            raise AssertionError(kind)
        out[name] = y
        return y

    ev(model.output)
    return out


@pytest.fixture(scope="module")
def keras_model():
    return KerasInception(seed=0)


def test_converted_network_matches_the_keras_graph(keras_model, tmp_path):
    keras_model.write(tmp_path / "model", "json")
    path = convert_nsfwjs(tmp_path / "model", tmp_path / "out.safetensors")
    net = load_nsfwjs_inception(path)
    assert net.net.width_div == DIV and net.net.Mixed_7c.pool == "avg" and net.net.num_features == 2048 // DIV
    x = torch.rand(2, 3, 299, 299, generator=torch.Generator().manual_seed(0))
    ref = run_keras(keras_model, x.double())
    with torch.no_grad():
        feats, probs = net(x), net.classify(x)
    torch.testing.assert_close(feats.double(), ref[keras_model.features], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(probs.double(), ref[keras_model.output], rtol=1e-4, atol=1e-5)
    assert probs.shape == (2, 5) and torch.allclose(probs.sum(1), torch.ones(2))
    # Other sizes are resized to 299 the way nsfwjs does (bilinear, align_corners).
    small = torch.rand(1, 3, 100, 140)
    with torch.no_grad():
        up = F.interpolate(small, size=(299, 299), mode="bilinear", align_corners=True)
        torch.testing.assert_close(net(small), net(up))


def test_package_modules_and_tgz_convert_to_the_same_tensors(keras_model, tmp_path):
    from safetensors.torch import load_file

    keras_model.write(tmp_path / "plain", "json", shuffle=False)
    keras_model.write(tmp_path / "pkg" / "package" / "dist" / "models" / "inception_v3", "minjs")
    tgz = tmp_path / "nsfwjs-4.3.0.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(tmp_path / "pkg" / "package", arcname="package")
    a = load_file(convert_nsfwjs(tmp_path / "plain", tmp_path / "a.safetensors"))
    b = load_file(convert_nsfwjs(tmp_path / "pkg", tmp_path / "b.safetensors"))
    c = load_file(convert_nsfwjs(tgz, tmp_path / "c.safetensors"))
    assert set(a) == set(b) == set(c)
    assert "Mixed_7c.branch3x3dbl_3b.conv.weight" in a and "head.layers.1.weight" in a
    for k in a:
        assert torch.equal(a[k], b[k]) and torch.equal(a[k], c[k]), k


def test_cli_converts_into_the_cache_where_fid_finds_it(keras_model, tmp_path, capsys):
    keras_model.write(tmp_path / "model", "minjs")
    assert main(["convert-weights", "nsfwjs", "--source", str(tmp_path / "model")]) == 0
    converted = cache_dir() / NSFWJS_INCEPTION.filename
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"path={converted}"
    assert converted.is_file()
    assert pick_feature_net("auto") == "inception-nsfwjs"
    assert len(NSFWJS_CLASSES) == 5


def test_broken_sources_are_clear_errors(keras_model, tmp_path, monkeypatch):
    keras_model.write(tmp_path / "m", "json", shuffle=False)
    (tmp_path / "m" / "group1-shard2of2").unlink()
    with pytest.raises(ConvertError, match="shard2of2"):
        convert_nsfwjs(tmp_path / "m", tmp_path / "x.safetensors")
    # A branch with a conv missing is not InceptionV3.
    keras_model.write(tmp_path / "n", "json", shuffle=False)
    doc = json.loads((tmp_path / "n" / "model.json").read_text())
    layers = doc["modelTopology"]["model_config"]["config"]["layers"]
    by = {layer["name"]: layer for layer in layers}
    mixed5 = by["mixed5"]["inbound_nodes"][0]
    first_act = mixed5[1][0]  # branch7x7's output: skip its last conv unit
    conv = by[by[first_act]["inbound_nodes"][0][0][0]]["inbound_nodes"][0][0][0]
    mixed5[1][0] = by[conv]["inbound_nodes"][0][0][0]
    (tmp_path / "n" / "model.json").write_text(json.dumps(doc))
    with pytest.raises(ConvertError, match="mixed5"):
        convert_nsfwjs(tmp_path / "n", tmp_path / "y.safetensors")
    with pytest.raises(ConvertError, match="does not exist"):
        convert_nsfwjs(tmp_path / "nowhere", tmp_path / "z.safetensors")

    def no_npm(*a, **k):
        raise FileNotFoundError("npm")
    monkeypatch.setattr("irodori.npm.subprocess.run", no_npm)
    with pytest.raises(ConvertError, match="npm not found"):
        convert_nsfwjs(None, tmp_path / "w.safetensors")


_keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True).filter(lambda k: k not in ("void",))
_scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=8) \
    | st.floats(allow_nan=False, allow_infinity=False)
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
                       max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(_values)
def test_js_literal_parser_round_trips(value):
    text = js_literal(value)
    parsed = parse_js_literal("  " + text + ";trailing()", 0)
    assert parsed == value or (isinstance(value, float) and parsed == pytest.approx(value))


def test_a_file_converted_before_content_hashes_still_loads_and_a_new_one_is_checked(tmp_path):
    from safetensors.torch import load_file, save_file

    from irodori.errors import WeightsError
    from irodori.eval.nsfwjs import NSFWJSInception, save_nsfwjs_inception
    from irodori.weights import read_metadata

    torch.manual_seed(0)
    net = NSFWJSInception(width_div=16, head_sizes=(128, 5), head_activations=("softmax",))
    path = save_nsfwjs_inception(net, tmp_path / "new.safetensors")
    meta = read_metadata(path)
    assert meta["format"] == "irodori-inception-v3" and meta["content_sha256"]
    tensors = load_file(str(path))
    old = {k: v for k, v in meta.items() if k not in ("content_sha256", "format_version")}
    save_file(tensors, str(tmp_path / "old.safetensors"), metadata={"irodori": json.dumps(old)})
    loaded = load_nsfwjs_inception(tmp_path / "old.safetensors")
    x = torch.rand(1, 3, 80, 80)
    with torch.no_grad():
        torch.testing.assert_close(loaded.classify(x), net.eval().classify(x))
    tensors["head.layers.0.bias"] += 1
    save_file(tensors, str(tmp_path / "bad.safetensors"), metadata={"irodori": json.dumps(meta)})
    with pytest.raises(WeightsError, match="corrupt"):
        load_nsfwjs_inception(tmp_path / "bad.safetensors")
