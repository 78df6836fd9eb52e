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
    return W.WeightSpec("vgg19", "vgg19-test.pth", "https://example.invalid/vgg19-test.pth", sha, "IRODORI_VGG19")


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
    hub = W._torch_hub_dir()
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
