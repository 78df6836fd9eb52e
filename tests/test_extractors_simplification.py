"""Sketch Simplification: the converter on a synthetic model_gan.pth, the network, the paper's x3 pipeline.

The test saves what the PyTorch release holds (the state dict of an ``nn.Sequential`` with the
convolutions at 0, 2, ..., 44, optionally with mean/std) and checks the converted network against
a forward written with ``torch.nn.functional`` on the source tensors.
"""

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from irodori.cli import main
from irodori.errors import ConfigError, ConvertError, WeightsError
from irodori.extractors import SketchSimplificationNet, extract_simplification, lanczos_upscale, load_simplification
from irodori.extractors.simplification import IMAGE_MEAN, IMAGE_STD, LAYERS
from irodori.weights import SIMPLIFICATION, read_metadata
from irodori.convert.simplification import convert_simplification


@pytest.fixture(autouse=True)
def _no_weight_env(monkeypatch):
    for var in ("IRODORI_SKETCHKERAS", "IRODORI_SIMPLIFICATION"):
        monkeypatch.delenv(var, raising=False)


# Weight shapes of some published model_gan layers (Sequential index -> shape; transposed convs are
# (in, out, k, k)), read off bobbens' model_gan.py.
PUBLISHED_SHAPES = {
    0: (48, 1, 5, 5), 2: (128, 48, 3, 3), 16: (1024, 512, 3, 3), 22: (1024, 1024, 3, 3),
    28: (256, 256, 4, 4), 34: (128, 128, 4, 4), 40: (48, 48, 4, 4), 44: (1, 24, 3, 3),
}


def model_gan_state(div=1, seed=0):
    """A state dict with model_gan's keys and (at div=1) shapes; transposed convs are (in, out, k, k)."""
    g = torch.Generator().manual_seed(seed)
    width = lambda c: c if c == 1 else c // div  # noqa: E731
    state = {}
    for i, (kind, cin, cout, k, _) in enumerate(LAYERS):
        cin, cout = width(cin), width(cout)
        shape = (cout, cin, k, k) if kind == "conv" else (cin, cout, k, k)
        state[f"{2 * i}.weight"] = torch.randn(shape, generator=g) * (2.0 / (cin * k * k)) ** 0.5
        state[f"{2 * i}.bias"] = torch.randn(cout, generator=g) * 0.05
    return state


def reference_forward(state, x, mean, std):
    """model_gan with functional ops on the source tensors."""
    x = (x - mean) / std
    for i, (kind, _, _, k, s) in enumerate(LAYERS):
        w, b = state[f"{2 * i}.weight"], state[f"{2 * i}.bias"]
        x = F.conv2d(x, w, b, s, k // 2) if kind == "conv" else F.conv_transpose2d(x, w, b, 2, 1)
        x = torch.sigmoid(x) if i == len(LAYERS) - 1 else F.relu(x)
    return x


@pytest.fixture(scope="module")
def full_model(tmp_path_factory):
    """The real shapes (44.4 M parameters), saved and converted once for the module."""
    d = tmp_path_factory.mktemp("simp")
    state = model_gan_state()
    torch.save(state, d / "model_gan.pth")
    return state, convert_simplification(d / "model_gan.pth", d / "converted.safetensors")


@pytest.fixture
def tiny_pth(tmp_path):
    state = model_gan_state(div=8, seed=1)
    torch.save(state, tmp_path / "model_gan.pth")
    return state, tmp_path / "model_gan.pth"


def test_converted_network_matches_model_gan(full_model):
    state, path = full_model
    for index, shape in PUBLISHED_SHAPES.items():
        assert tuple(state[f"{index}.weight"].shape) == shape
    assert len(state) == 46
    net = load_simplification(path)
    assert isinstance(net, SketchSimplificationNet) and not net.training
    assert sum(p.numel() for p in net.parameters()) == 44_387_249
    meta = read_metadata(path)
    assert meta["mean"] == IMAGE_MEAN and meta["std"] == IMAGE_STD and meta["mean_from"] == "published constant"
    x = torch.rand(2, 1, 16, 24, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        got = net(x)
    want = reference_forward(state, x, IMAGE_MEAN, IMAGE_STD)
    assert got.shape == want.shape == (2, 1, 16, 24)
    assert torch.allclose(got, want, atol=1e-5)
    assert want.std() > 1e-3  # not a saturated constant
    assert load_simplification(path) is net  # loaded once per process


def test_mean_std_stored_with_the_state_dict(tiny_pth, tmp_path):
    state, _ = tiny_pth
    src = tmp_path / "wrapped.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, "mean": 0.9, "std": torch.tensor([0.1])},
               src)
    path = convert_simplification(src, tmp_path / "w.safetensors")
    meta = read_metadata(path)
    assert meta["mean"] == pytest.approx(0.9) and meta["std"] == pytest.approx(0.1) and meta["mean_from"] == "file"
    net = load_simplification(path)
    x = torch.rand(1, 1, 8, 16)
    with torch.inference_mode():
        assert torch.allclose(net(x), reference_forward(state, x, 0.9, 0.1), atol=1e-5)


def test_extraction_enlarges_three_times_and_shrinks_back(tiny_pth, tmp_path):
    state, src = tiny_pth
    net = load_simplification(convert_simplification(src, tmp_path / "s.safetensors"))
    rgb = (np.random.default_rng(3).random((13, 21, 3)) * 255).astype(np.uint8)
    got = extract_simplification(rgb, np.random.default_rng(0), net=net)
    # Spelled out: Lanczos x3, grey / 255, replicate pad to 8 (right/bottom), network, crop, area back.
    big = cv2.resize(rgb, (63, 39), interpolation=cv2.INTER_LANCZOS4)
    grey = cv2.cvtColor(big, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
    x = torch.from_numpy(np.pad(grey, ((0, 1), (0, 1)), mode="edge"))[None, None]
    out = reference_forward(state, x, IMAGE_MEAN, IMAGE_STD)[0, 0, :39, :63].numpy()
    want = np.clip(cv2.resize(out, (21, 13), interpolation=cv2.INTER_AREA), 0, 1)
    assert got.shape == (13, 21) and got.dtype == np.float32
    assert np.abs(got - want).max() < 1e-5


def test_a_learned_upscaler_plugs_in():
    net = SketchSimplificationNet(width_div=8).eval()
    rgb = (np.random.default_rng(0).random((10, 12, 3)) * 255).astype(np.uint8)
    calls = []

    def nearest(image, factor):
        calls.append((image.shape, factor))
        return np.repeat(np.repeat(image, factor, 0), factor, 1)

    out = extract_simplification(rgb, net=net, upscaler=nearest)
    assert calls == [((10, 12, 3), 3)] and out.shape == (10, 12)
    assert extract_simplification(rgb, net=net, scale=1).shape == (10, 12)
    with pytest.raises(ValueError, match="upscaler"):
        extract_simplification(rgb, net=net, upscaler=lambda image, f: image)
    assert lanczos_upscale(rgb, 3).shape == (30, 36, 3)


@pytest.mark.parametrize("shape", [(37, 53), (8, 8), (1, 3), (30, 17)])
def test_any_size_with_random_weights(shape):
    torch.manual_seed(0)
    net = SketchSimplificationNet(width_div=8).eval()
    rgb = (np.random.default_rng(0).random((*shape, 3)) * 255).astype(np.uint8)
    out = extract_simplification(rgb, net=net)
    assert out.shape == shape and out.dtype == np.float32 and np.isfinite(out).all()
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_wrong_sources_are_refused(tiny_pth, tmp_path):
    state, _ = tiny_pth
    bad = dict(state)
    del bad["44.bias"]
    torch.save(bad, tmp_path / "short.pth")
    with pytest.raises(ConvertError, match="44.bias"):
        convert_simplification(tmp_path / "short.pth", tmp_path / "x.safetensors")
    bad = dict(state, **{"2.weight": torch.zeros(3, 3, 3, 3)})
    torch.save(bad, tmp_path / "shape.pth")
    with pytest.raises(ConvertError, match="2.weight"):
        convert_simplification(tmp_path / "shape.pth", tmp_path / "x.safetensors")
    (tmp_path / "model_gan.t7").write_bytes(b"\0" * 16)
    with pytest.raises(ConvertError, match="Torch7"):
        convert_simplification(tmp_path / "model_gan.t7", tmp_path / "x.safetensors")
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(ConvertError, match="cannot read"):
        convert_simplification(tmp_path / "junk.pth", tmp_path / "x.safetensors")


def test_missing_weights_are_clear(tmp_path, monkeypatch):
    with pytest.raises(WeightsError, match="convert-weights simplification model_gan.pth"):
        load_simplification()
    monkeypatch.setenv("IRODORI_SIMPLIFICATION", str(tmp_path / "nope.safetensors"))
    with pytest.raises(WeightsError, match="IRODORI_SIMPLIFICATION"):
        load_simplification()


def test_cli_and_check_methods(tiny_pth, tmp_path, monkeypatch, capsys):
    from irodori.data.lineart import PAPER_MIXTURE, check_methods, extract_lineart

    with pytest.raises(ConfigError, match="simplification.*convert-weights simplification model_gan.pth"):
        check_methods({"xdog": 1.0, "simplification": 0.0})
    out = tmp_path / "conv" / "simp.safetensors"
    assert main(["convert-weights", "simplification", str(tiny_pth[1]), "--out", str(out)]) == 0
    assert f"path={out}" in capsys.readouterr().out
    monkeypatch.setenv("IRODORI_SIMPLIFICATION", str(out))
    check_methods({"xdog": 1.0, "simplification": 0.0})
    with pytest.raises(ConfigError, match="sketchkeras") as err:
        check_methods(PAPER_MIXTURE)  # sketchkeras still missing; simplification is fine now
    assert "'simplification'" not in str(err.value)
    rgb = (np.random.default_rng(4).random((9, 14, 3)) * 255).astype(np.uint8)
    line = extract_lineart(rgb, "simplification", np.random.default_rng(0))
    assert line.shape == (9, 14) and line.dtype == np.float32
    assert SIMPLIFICATION.env_var == "IRODORI_SIMPLIFICATION"
