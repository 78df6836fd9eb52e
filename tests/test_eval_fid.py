import numpy as np
import pytest
import torch
import torch.nn as nn

from irodori.cli import main
from irodori.errors import WeightsError
from irodori.eval.fid import (
    FID, FeatureStats, frechet_distance, frechet_distance_low_rank, pick_feature_net, stats_path,
)
from irodori.eval.inception import InceptionV3, PytorchFIDInception, load_pytorch_fid_inception
from irodori.weights import cache_dir


def test_frechet_distance_matches_the_closed_form_for_diagonal_gaussians():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=16), rng.normal(size=16)
    a, b = rng.uniform(0.1, 3, 16), rng.uniform(0.1, 3, 16)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(a + b - 2 * np.sqrt(a * b))
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_of_equal_covariances_is_the_mean_distance():
    rng = np.random.default_rng(1)
    m = rng.normal(size=(8, 8))
    sigma = m @ m.T  # full, non-diagonal
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    assert frechet_distance(mu1, sigma, mu2, sigma) == pytest.approx(np.sum((mu1 - mu2) ** 2), rel=1e-6, abs=1e-8)


def test_frechet_distance_with_fewer_samples_than_dimensions_stays_finite():
    # Rank-deficient covariances (20 samples in 64-d) are where sqrtm needs the eps fallback.
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(20, 64)), rng.normal(size=(20, 64)) + 0.5
    sx, sy = FeatureStats.of(x), FeatureStats.of(y)
    same = frechet_distance(sx.mu, sx.sigma, sx.mu, sx.sigma)
    diff = frechet_distance(sx.mu, sx.sigma, sy.mu, sy.sigma)
    assert np.isfinite(diff) and diff > 64 * 0.25 * 0.5
    assert abs(same) < 1e-3 * diff


@pytest.mark.parametrize("n, d", [(20, 64), (5, 40), (50, 12)])
def test_low_rank_path_equals_the_sqrtm_reference(n, d):
    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) * 0.3
    y = rng.normal(size=(3 * d, d)) + 0.2
    sx, sy = FeatureStats.of(x), FeatureStats.of(y)
    ref = frechet_distance(sx.mu, sx.sigma, sy.mu, sy.sigma, eps=1e-12)
    assert frechet_distance_low_rank(x, sy.mu, sy.sigma) == pytest.approx(ref, rel=1e-6, abs=1e-8)
    # The closed form holds for it too.
    a = rng.uniform(0.5, 2, d)
    z = rng.normal(size=(n, d))
    sz = FeatureStats.of(z)
    assert frechet_distance_low_rank(z, np.zeros(d), np.diag(a)) == pytest.approx(
        frechet_distance(sz.mu, sz.sigma, np.zeros(d), np.diag(a)), rel=1e-6)


class MeanColor(nn.Module):
    """A stand-in extractor: per-channel means and quadrant means (15-d features)."""

    def forward(self, x):
        q = nn.functional.adaptive_avg_pool2d(x, 2).flatten(1)
        return torch.cat([x.mean((2, 3)), q], 1)


def _images(seed, n=12, size=16):
    rng = np.random.default_rng(seed)
    return [rng.uniform(0, 1, (size, size, 3)).astype(np.float32) for _ in range(n)]


def test_real_statistics_are_cached_per_key_and_written_atomically(monkeypatch):
    fid = FID("inception-nsfwjs", model=MeanColor())  # a name is needed for the cache key; the model is ours
    real, fake = _images(0), _images(1)
    key = {"dataset": "/data/x", "manifest_sha256": "abc", "split": "test", "size": 16, "images": 12}
    first = fid(fake, real, key)
    assert first["fid_real_stats"] == "computed" and first["fid_extractor"] == "inception-nsfwjs"
    path = stats_path({**key, "extractor": "inception-nsfwjs"})
    assert path.is_file() and path.parent == cache_dir() / "fid_stats"
    assert [p.name for p in path.parent.iterdir()] == [path.name], "no temp files left behind"
    second = fid(fake, real, key)
    assert second["fid_real_stats"] == "cached" and second["fid"] == pytest.approx(first["fid"], rel=1e-12)
    # Another split (or size, dataset, extractor) is another entry.
    assert fid(fake, real, {**key, "split": "val"})["fid_real_stats"] == "computed"
    assert len(list(path.parent.glob("*.npz"))) == 2
    # Without a key nothing is cached, and the value is the same.
    assert fid(fake, real)["fid"] == pytest.approx(first["fid"], rel=1e-9)
    # A crash while writing leaves neither a partial file nor a temp file.
    def boom(*a, **k):
        raise OSError("disk full")
    with monkeypatch.context() as m:
        m.setattr(np, "savez", boom)
        with pytest.raises(OSError):
            fid(fake, real, {**key, "split": "train"})
    assert len(list(path.parent.iterdir())) == 2
    # A corrupt cache file is recomputed (and replaced), not trusted.
    path.write_bytes(b"not an npz")
    assert fid(fake, real, key)["fid_real_stats"] == "computed"
    assert fid(fake, real, key)["fid_real_stats"] == "cached"


def test_fid_of_a_set_with_itself_is_zero():
    fid = FID("inception-nsfwjs", model=MeanColor())
    real = _images(3)
    assert abs(fid(real, real)["fid"]) < 1e-6


def test_missing_inception_weights_are_a_clear_weights_error(capsys, tmp_path):
    with pytest.raises(WeightsError, match="pt_inception-2015-12-05-6726825d.pth") as exc:
        load_pytorch_fid_inception()
    assert "IRODORI_FID_INCEPTION" in str(exc.value) and "pytorch-fid/releases" in str(exc.value)
    with pytest.raises(WeightsError, match="convert-weights nsfwjs"):
        FID("inception-nsfwjs")
    with pytest.raises(WeightsError, match="convert-weights nsfwjs"):
        pick_feature_net("auto")
    # The CLI refuses before loading any model or data.
    assert main(["evaluate", "--data", str(tmp_path), "--metrics", "psnr,fid"]) == 2
    assert "convert-weights nsfwjs" in capsys.readouterr().err


def test_pytorch_fid_layout_and_parameter_names():
    net = InceptionV3(num_classes=1008, last_pool="max")
    sd = net.state_dict()
    expect = {
        "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3), "Conv2d_4a_3x3.bn.running_var": (192,),
        "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1), "Mixed_5d.branch5x5_2.conv.weight": (64, 48, 5, 5),
        "Mixed_6a.branch3x3.conv.weight": (384, 288, 3, 3), "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
        "Mixed_7a.branch7x7x3_4.conv.weight": (192, 192, 3, 3), "Mixed_7c.branch3x3dbl_3b.conv.weight": (384, 384, 3, 1),
        "fc.weight": (1008, 2048), "fc.bias": (1008,),
    }
    for k, shape in expect.items():
        assert tuple(sd[k].shape) == shape, k
    convs = [k for k in sd if k.endswith(".conv.weight")]
    assert len(convs) == 94 and not any("Aux" in k for k in sd)
    assert sum(v.numel() for k, v in sd.items() if not k.endswith("num_batches_tracked")) > 23_800_000


def test_pytorch_fid_network_forward_with_a_state_dict_like_the_published_file(tmp_path, monkeypatch):
    torch.manual_seed(0)
    src = InceptionV3(num_classes=1008, width_div=1)
    state = {k: v for k, v in src.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    torch.save(state, path)
    monkeypatch.setattr("irodori.eval.inception.resolve", lambda spec, explicit=None: path)  # no checksum here
    model = load_pytorch_fid_inception()
    assert isinstance(model, PytorchFIDInception) and not any(p.requires_grad for p in model.parameters())
    with torch.no_grad():
        feats = model(torch.rand(2, 3, 40, 56))
    assert feats.shape == (2, 2048) and torch.isfinite(feats).all() and (feats >= 0).all()


@pytest.mark.parametrize("last_pool", ["avg", "max"])
def test_tiny_inception_forward(last_pool):
    torch.manual_seed(0)
    net = InceptionV3(num_classes=10, last_pool=last_pool, width_div=16).eval()
    with torch.no_grad():
        f = net.features(torch.rand(2, 3, 75, 75))
        logits = net(torch.rand(1, 3, 80, 96))
    assert f.shape == (2, 128) and torch.isfinite(f).all() and (f >= 0).all()
    assert logits.shape == (1, 10)
    with pytest.raises(ValueError):
        InceptionV3(width_div=3)


