import hashlib
import urllib.request

import pytest
import torch

from irodori import weights as W
from irodori.errors import WeightsError
from irodori.models.vgg import VGG19Features


@pytest.fixture
def no_network(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("tests must not touch the network")
    monkeypatch.setattr(urllib.request, "urlopen", boom)


def _write_vgg_file(path):
    torch.manual_seed(0)
    src = VGG19Features(taps=("relu5_1",))
    state = {k: v.clone() for k, v in src.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(4, 4)  # torchvision files carry the classifier too
    torch.save(state, path)
    return src, hashlib.sha256(path.read_bytes()).hexdigest()


def _spec(sha):
    return W.PublishedWeights("vgg19", "vgg19-test.pth", "https://example.invalid/vgg19-test.pth", sha, "IRODORI_VGG19")


def test_round_trip_explicit_env_and_cache(tmp_path, monkeypatch, no_network):
    f = tmp_path / "vgg19-test.pth"
    src, sha = _write_vgg_file(f)
    for how in ("explicit", "env", "cache", "prefix"):
        model = VGG19Features()
        spec = _spec(sha[:8] if how == "prefix" else sha)
        if how == "explicit":
            model.load_pretrained(f, spec)
        elif how == "env":
            monkeypatch.setenv("IRODORI_VGG19", str(f))
            model.load_pretrained(None, spec)
            monkeypatch.delenv("IRODORI_VGG19")
        else:
            cache = W.cache_dir()
            cache.mkdir(parents=True, exist_ok=True)
            (cache / spec.filename).write_bytes(f.read_bytes())
            model.load_pretrained(None, spec)
        for k, v in model.state_dict().items():
            assert torch.equal(v, src.state_dict()[k])
        assert all(not p.requires_grad for p in model.parameters())


def test_torch_hub_cache_is_accepted(tmp_path, no_network):
    f = tmp_path / "x.pth"
    _, sha = _write_vgg_file(f)
    hub = W.torch_hub_dir()
    hub.mkdir(parents=True)
    (hub / "vgg19-test.pth").write_bytes(f.read_bytes())
    assert W.resolve(_spec(sha)) == hub / "vgg19-test.pth"


def test_wrong_checksum_is_a_clear_error(tmp_path, no_network):
    f = tmp_path / "vgg19-test.pth"
    _write_vgg_file(f)
    with pytest.raises(WeightsError, match="SHA-256"):
        VGG19Features().load_pretrained(f, _spec("0" * 64))


def test_missing_file_names_file_and_place_without_network(no_network):
    with pytest.raises(WeightsError) as err:
        VGG19Features().load_pretrained(None, W.VGG19_IMAGENET)
    msg = str(err.value)
    assert "vgg19-dcbb9e9d.pth" in msg and str(W.cache_dir()) in msg and "IRODORI_VGG19" in msg


def test_missing_explicit_path_is_reported(tmp_path, no_network):
    with pytest.raises(WeightsError, match="does not exist"):
        W.resolve(W.VGG19_IMAGENET, tmp_path / "nope.pth")


def test_wrong_keys_are_reported(tmp_path, no_network):
    f = tmp_path / "bad.pth"
    torch.save({"features.0.weight": torch.zeros(1)}, f)
    sha = hashlib.sha256(f.read_bytes()).hexdigest()
    with pytest.raises(WeightsError, match="lacks VGG19 keys|shape"):
        VGG19Features().load_pretrained(f, _spec(sha))


def test_a_checked_load_names_missing_unexpected_and_wrong_shape_keys():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
    state = {k: v.clone() for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    W.load_state_checked(net, state, "good.pth")  # BatchNorm's counter is neither needed nor refused
    bad = {**state, "0.weight": torch.zeros(2, 1, 5, 5), "2.weight": torch.zeros(1)}
    del bad["1.bias"]
    with pytest.raises(WeightsError) as err:
        W.load_state_checked(net, bad, "bad.pth")
    msg = str(err.value)
    assert "bad.pth does not fit Sequential" in msg and "1.bias" in msg and "2.weight" in msg and "0.weight" in msg
    W.load_state_checked(net, {**state, "2.weight": torch.zeros(1)}, "more.pth", ignore_unexpected=True)


def test_an_explicit_path_or_a_set_variable_is_final_and_the_cache_is_the_fallback(tmp_path, monkeypatch):
    spec = _spec("0" * 64)
    assert not W.on_disk(spec)
    cached = W.cache_dir() / spec.filename
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(b"x")
    assert W.on_disk(spec) and not W.on_disk(spec, tmp_path / "nope.pth")
    monkeypatch.setenv("IRODORI_VGG19", str(tmp_path / "nope.pth"))
    assert not W.on_disk(spec)
    assert [source for source, _ in W.candidates(spec)] == ["$IRODORI_VGG19", "cache dir", "torch hub cache"]
    assert [source for source, _ in W.candidates(W.SKETCHKERAS)] == ["cache dir"]  # converted: no torch hub


def test_convert_weights_offers_every_converted_file():
    from irodori.cli.convert_weights import SOURCES

    assert set(SOURCES) == set(W.CONVERTED)
    for name, record in W.CONVERTED.items():
        assert record.name == name and record.convert_command.startswith(f"irodori convert-weights {name}")


def test_the_weights_package_imports_no_network_and_no_converter():
    import subprocess
    import sys

    code = ("import sys, irodori.weights; "
            "print(sorted(m for m in sys.modules if m.split('.')[:3] == ['irodori', 'weights', 'convert'] "
            "or m.split('.')[:2] in (['irodori', p] for p in ('eval', 'extractors', 'models', 'data')) "
            "or m == 'h5py'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
