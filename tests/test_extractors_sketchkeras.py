"""sketchKeras: the converter on a synthetic Keras 2 HDF5 model, the network, the authors' pre/post-processing.

The test writes ``mod.h5`` the way Keras 2 saves a functional model (root ``model_config`` JSON,
``model_weights/<layer>/<layer>/kernel:0`` ..., ``layer_names`` / ``weight_names`` attributes,
layers named conv2d_K, batch_normalization_K, activation_K, up_sampling2d_K, concatenate_K) and
checks the converted network against an independent executor of that Keras graph.
"""

import json
from collections import Counter

import cv2
import h5py
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from irodori.cli import main
from irodori.errors import ConfigError, WeightsError
from irodori.errors import ConvertError
from irodori.extractors import SketchKerasNet, load_sketchkeras
from irodori.extractors.sketchkeras import extract_sketchkeras, sketchkeras_input
from irodori.weights import SKETCHKERAS, cache_dir
from irodori.convert.sketchkeras import convert_sketchkeras



@pytest.fixture(autouse=True)
def _no_weight_env(monkeypatch):
    for var in ("IRODORI_SKETCHKERAS", "IRODORI_SIMPLIFICATION"):
        monkeypatch.delenv(var, raising=False)


class KerasSketchKeras:
    """Layer list, config and weights of the sketchKeras U-Net at ``1/div`` width, named as Keras 2 does."""

    def __init__(self, div=1, seed=0):
        self.rng = np.random.default_rng(seed)
        self.layers, self.weights, self.count = [], {}, Counter()
        c0, c1, c2, c3, c4 = (w // div for w in (32, 64, 128, 256, 512))
        x = self.layer("InputLayer", "input_1", {"batch_input_shape": [None, None, None, 1]}, [])
        d1 = self.cbr(x, 1, c0, 3, 1)
        d2 = self.cbr(self.cbr(d1, c0, c1, 4, 2), c1, c1, 3, 1)
        d3 = self.cbr(self.cbr(d2, c1, c2, 4, 2), c2, c2, 3, 1)
        d4 = self.cbr(self.cbr(d3, c2, c3, 4, 2), c3, c3, 3, 1)
        d5 = self.cbr(d4, c3, c4, 4, 2)
        x = self.cbr(d5, c4, c4, 3, 1)
        for skip, cin, mid, cout in ((d5, 2 * c4, c4, c3), (d4, 2 * c3, c3, c2), (d3, 2 * c2, c2, c1),
                                     (d2, 2 * c1, c1, c0)):
            x = self.layer("Concatenate", self.name("concatenate"), {"axis": -1}, [skip, x])
            x = self.layer("UpSampling2D", self.name("up_sampling2d"), {"size": [2, 2]}, [x])
            x = self.cbr(self.cbr(x, cin, mid, 4, 1), mid, cout, 3, 1)
        x = self.layer("Concatenate", self.name("concatenate"), {"axis": -1}, [d1, x])
        self.conv(x, 2 * c0, 1, 3, 1)

    def name(self, kind):
        self.count[kind] += 1
        return f"{kind}_{self.count[kind]}"

    def layer(self, cls, name, config, inputs):
        self.layers.append({"name": name, "class_name": cls, "config": {"name": name, **config},
                            "inbound_nodes": [[[i, 0, 0, {}] for i in inputs]] if inputs else []})
        return name

    def conv(self, x, cin, cout, k, s):
        name = self.name("conv2d")
        self.weights[name] = {
            "kernel": (self.rng.standard_normal((k, k, cin, cout)) * np.sqrt(2.0 / (k * k * cin))).astype(np.float32),
            "bias": (self.rng.standard_normal(cout) * 0.1).astype(np.float32),
        }
        return self.layer("Conv2D", name, {"filters": cout, "kernel_size": [k, k], "strides": [s, s],
                                           "padding": "same", "dilation_rate": [1, 1], "activation": "linear",
                                           "use_bias": True}, [x])

    def cbr(self, x, cin, cout, k, s):
        x = self.conv(x, cin, cout, k, s)
        name = self.name("batch_normalization")
        self.weights[name] = {
            "gamma": self.rng.uniform(0.5, 1.5, cout).astype(np.float32),
            "beta": (self.rng.standard_normal(cout) * 0.1).astype(np.float32),
            "moving_mean": (self.rng.standard_normal(cout) * 0.1).astype(np.float32),
            "moving_variance": self.rng.uniform(0.5, 1.5, cout).astype(np.float32),
        }
        x = self.layer("BatchNormalization", name, {"axis": -1, "epsilon": 0.001, "center": True, "scale": True}, [x])
        return self.layer("Activation", self.name("activation"), {"activation": "relu"}, [x])

    def config(self):
        return {"class_name": "Model", "config": {"name": "model_1", "layers": self.layers,
                                                  "input_layers": [["input_1", 0, 0]],
                                                  "output_layers": [[self.layers[-1]["name"], 0, 0]]}}

    def save(self, path, config=None, with_config=True):
        with h5py.File(path, "w") as f:
            f.attrs["keras_version"] = b"2.0.8"
            f.attrs["backend"] = b"tensorflow"
            if with_config:
                f.attrs["model_config"] = json.dumps(config or self.config()).encode()
            g = f.create_group("model_weights")
            g.attrs["layer_names"] = [layer["name"].encode() for layer in self.layers]
            for layer in self.layers:
                lg = g.create_group(layer["name"])
                names = [f"{layer['name']}/{w}:0" for w in self.weights.get(layer["name"], {})]
                lg.attrs["weight_names"] = [n.encode() for n in names]
                for n, (_, arr) in zip(names, self.weights.get(layer["name"], {}).items()):
                    lg.create_dataset(n, data=arr)
        return path

    def forward(self, x):
        """Independent executor of the Keras graph (NHWC numpy semantics, TF ``same`` padding)."""
        out = {}
        for layer in self.layers:
            name, cls, cfg = layer["name"], layer["class_name"], layer["config"]
            ins = [out[n[0]] for n in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
            if cls == "InputLayer":
                y = x
            elif cls == "Conv2D":
                k, s = cfg["kernel_size"][0], cfg["strides"][0]

                def same(n):
                    total = max((-(-n // s) - 1) * s + k - n, 0)
                    return total // 2, total - total // 2
                xp = F.pad(ins[0], (*same(ins[0].shape[3]), *same(ins[0].shape[2])))
                w = torch.from_numpy(self.weights[name]["kernel"]).permute(3, 2, 0, 1)
                y = F.conv2d(xp, w, torch.from_numpy(self.weights[name]["bias"]), stride=s)
            elif cls == "BatchNormalization":
                p = {k: torch.from_numpy(v)[None, :, None, None] for k, v in self.weights[name].items()}
                y = (ins[0] - p["moving_mean"]) / torch.sqrt(p["moving_variance"] + 1e-3) * p["gamma"] + p["beta"]
            elif cls == "Activation":
                y = ins[0].clamp_min(0)
            elif cls == "UpSampling2D":
                y = ins[0].repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
            elif cls == "Concatenate":
                y = torch.cat(ins, 1)
            out[name] = y
        return out[self.layers[-1]["name"]]


@pytest.fixture(scope="module")
def full_model(tmp_path_factory):
    """The real widths (18.6 M parameters), written and converted once for the module."""
    keras = KerasSketchKeras(div=1)
    d = tmp_path_factory.mktemp("sk")
    h5 = keras.save(d / "mod.h5")
    return keras, h5, convert_sketchkeras(h5, d / "converted.safetensors")


@pytest.fixture
def tiny_h5(tmp_path):
    keras = KerasSketchKeras(div=8, seed=1)
    return keras, keras.save(tmp_path / "mod.h5")


def test_converted_network_matches_the_keras_graph(full_model):
    keras, h5, path = full_model
    with h5py.File(h5, "r") as f:  # the published layout
        assert f["model_weights/conv2d_1/conv2d_1/kernel:0"].shape == (3, 3, 1, 32)
        assert f["model_weights/conv2d_10/conv2d_10/kernel:0"].shape == (4, 4, 1024, 512)
        assert f["model_weights/conv2d_18/conv2d_18/kernel:0"].shape == (3, 3, 64, 1)
        assert f["model_weights/batch_normalization_17/batch_normalization_17/moving_variance:0"].shape == (32,)
    net = load_sketchkeras(path)
    assert isinstance(net, SketchKerasNet) and not net.training and net.width_div == 1
    assert sum(p.numel() for p in net.parameters()) == 18_637_601
    x = torch.from_numpy(np.random.default_rng(2).standard_normal((2, 1, 32, 48)).astype(np.float32))
    with torch.inference_mode():
        got = net(x)
    want = keras.forward(x)
    assert got.shape == want.shape == (2, 1, 32, 48)
    assert torch.allclose(got, want, atol=1e-4 * float(want.abs().max()), rtol=1e-4)
    assert load_sketchkeras(path) is net  # loaded once per process


def test_extraction_follows_the_authors_pipeline(tiny_h5, tmp_path):
    keras, h5 = tiny_h5
    net = load_sketchkeras(convert_sketchkeras(h5, tmp_path / "sk.safetensors"))
    rgb = (np.random.default_rng(3).random((37, 53, 3)) * 255).astype(np.uint8)
    got = extract_sketchkeras(rgb, np.random.default_rng(0), net=net, threshold=0.1)
    # The authors' helper.py, spelled out: per channel I - blur(I), /128, / global max, batch of 3, zero pad.
    high = np.stack([c.astype(int) - cv2.GaussianBlur(c, (0, 0), 3).astype(int) for c in rgb.transpose(2, 0, 1)])
    high = high / 128.0
    high = high / high.max()
    batch = np.zeros((3, 1, 48, 64), np.float32)
    batch[:, 0, :37, :53] = high
    lines = keras.forward(torch.from_numpy(batch))[:, 0, :37, :53].numpy().max(0)
    lines[lines < 0.1] = 0
    want = np.clip(1 - lines, 0, 1)
    assert got.shape == (37, 53) and got.dtype == np.float32
    assert np.abs(got - want).max() < 1e-4
    assert 0.0 <= got.min() and got.max() <= 1.0


@pytest.mark.parametrize("shape", [(37, 53), (16, 16), (1, 5), (70, 33)])
def test_any_size_with_random_weights(shape):
    torch.manual_seed(0)
    net = SketchKerasNet(width_div=8).eval()
    rgb = (np.random.default_rng(0).random((*shape, 3)) * 255).astype(np.uint8)
    out = extract_sketchkeras(rgb, net=net)
    assert out.shape == shape and out.dtype == np.float32 and np.isfinite(out).all()
    assert 0.0 <= out.min() and out.max() <= 1.0
    grey = extract_sketchkeras(rgb[:, :, 0], net=net)  # greyscale input works too
    assert grey.shape == shape


def test_flat_image_is_blank_paper():
    net = SketchKerasNet(width_div=8).eval()
    flat = np.full((20, 30, 3), 200, np.uint8)
    assert sketchkeras_input(flat) is None
    assert (extract_sketchkeras(flat, net=net) == 1.0).all()


def test_weights_only_file_converts(tiny_h5, tmp_path):
    keras, _ = tiny_h5
    h5 = keras.save(tmp_path / "weights.h5", with_config=False)
    meta_path = convert_sketchkeras(h5, tmp_path / "w.safetensors")
    net = load_sketchkeras(meta_path)
    x = torch.randn(1, 1, 16, 16)
    with torch.inference_mode():
        assert torch.allclose(net(x), keras.forward(x), atol=1e-4)


def _swap_concat_inputs(layers):
    for layer in layers:
        if layer["class_name"] == "Concatenate":
            layer["inbound_nodes"][0].reverse()


@pytest.mark.parametrize("edit, message", [
    (lambda layers: layers[1]["config"].update(padding="valid"), "conv2d_1"),
    (_swap_concat_inputs, "skip connection"),
    (lambda layers: layers[3]["config"].update(activation="tanh"), "activations"),
    (lambda layers: layers.append({"name": "zp", "class_name": "ZeroPadding2D", "config": {}}), "ZeroPadding2D"),
])
def test_an_unexpected_graph_is_refused(tiny_h5, tmp_path, edit, message):
    keras, _ = tiny_h5
    config = json.loads(json.dumps(keras.config()))
    edit(config["config"]["layers"])
    h5 = keras.save(tmp_path / "odd.h5", config=config)
    with pytest.raises(ConvertError, match=message):
        convert_sketchkeras(h5, tmp_path / "odd.safetensors")


def test_not_a_keras_file(tmp_path):
    (tmp_path / "mod.h5").write_bytes(b"not hdf5")
    with pytest.raises(ConvertError, match="HDF5"):
        convert_sketchkeras(tmp_path / "mod.h5", tmp_path / "x.safetensors")
    with pytest.raises(ConvertError, match="does not exist"):
        convert_sketchkeras(tmp_path / "missing.h5", tmp_path / "x.safetensors")


def test_missing_and_corrupt_weights_are_clear(tiny_h5, tmp_path, monkeypatch):
    with pytest.raises(WeightsError, match="convert-weights sketchkeras mod.h5"):
        load_sketchkeras()
    with pytest.raises(WeightsError, match="does not exist"):
        load_sketchkeras(tmp_path / "nope.safetensors")
    monkeypatch.setenv("IRODORI_SKETCHKERAS", str(tmp_path / "nope.safetensors"))
    with pytest.raises(WeightsError, match="IRODORI_SKETCHKERAS"):
        load_sketchkeras()
    # A tensor changed after conversion: the content hash in the metadata no longer matches.
    path = convert_sketchkeras(tiny_h5[1], tmp_path / "sk.safetensors")
    with safe_open(str(path), "pt") as f:
        metadata = f.metadata()
    tensors = load_file(str(path))
    tensors["out.bias"] = tensors["out.bias"] + 1
    bad = tmp_path / "bad.safetensors"
    save_file(tensors, str(bad), metadata=metadata)
    with pytest.raises(WeightsError, match="corrupt"):
        load_sketchkeras(bad)
    other = tmp_path / "other.safetensors"
    save_file(tensors, str(other))
    with pytest.raises(WeightsError, match="not a converted sketchkeras"):
        load_sketchkeras(other)


def test_cli_converts_into_the_cache_and_check_methods_accepts(tiny_h5, tmp_path, capsys):
    from irodori.data.lineart import check_methods, extract_lineart

    with pytest.raises(ConfigError, match="sketchkeras.*convert-weights sketchkeras mod.h5"):
        check_methods({"xdog": 0.5, "sketchkeras": 0.5})
    assert main(["convert-weights", "sketchkeras", str(tiny_h5[1])]) == 0
    out = capsys.readouterr().out
    assert (cache_dir() / SKETCHKERAS.filename).is_file() and "content sha256=" in out
    check_methods({"xdog": 0.5, "sketchkeras": 0.5})
    rgb = (np.random.default_rng(4).random((24, 40, 3)) * 255).astype(np.uint8)
    line = extract_lineart(rgb, "sketchkeras", np.random.default_rng(0))
    assert line.shape == (24, 40) and line.dtype == np.float32


def test_cli_needs_the_source(capsys):
    assert main(["convert-weights", "sketchkeras"]) == 2
    assert "mod.h5" in capsys.readouterr().err
