"""Fréchet distance between feature sets (FID, Heusel et al. 2017), with cached reference statistics.

FID is a set-level metric: the features of all generated images and of all real images are each
summarized by a mean and covariance, and

    FID = |mu_r - mu_g|^2 + tr(S_r + S_g - 2 (S_r S_g)^(1/2)).

:func:`frechet_distance` is the reference (``scipy.linalg.sqrtm``, eps fallback). When the
generated set has fewer images than feature dimensions (the usual case here: a few hundred
images, 2048 features), :func:`frechet_distance_low_rank` gets the same value from the
generated features' n x n Gram-like matrix instead of a 2048 x 2048 square root (seconds
instead of a minute on 2 CPU cores); tests hold the two to each other.

Feature networks live in :data:`FEATURE_NETS` (a plain dict; the CLI picks one with
``--fid-extractor``, and results name it under ``fid_extractor``). Real-set statistics are cached in
``cache_dir()/fid_stats`` under a hash of (dataset path, manifest content, split, image list,
size, feature network), written atomically (temp file + ``os.replace``, stylegan3 style).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import scipy.linalg
import torch
import torch.nn as nn

from irodori.atomic import atomic_write_bytes
from irodori.errors import InputError, WeightsError
from irodori.eval.inception import load_pytorch_fid_inception
from irodori.eval.nsfwjs import load_nsfwjs_inception
from irodori.weights import FID_INCEPTION, NSFWJS_INCEPTION, cache_dir, on_disk


# ---------------------------------------------------------------------------
# The distance


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

    ``sqrtm(sigma1 @ sigma2)`` may fail on near-singular products (fewer samples than dimensions):
    then ``eps * I`` is added to both covariances. Imaginary parts from round-off are dropped when
    small (|imag| <= 1e-3 on the diagonal), otherwise it is an error.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(f"shapes differ: mu {mu1.shape} / {mu2.shape}, sigma {s1.shape} / {s2.shape}")
    diff = mu1 - mu2

    def sqrt_product(offset: float) -> np.ndarray:
        eye = np.eye(s1.shape[0]) * offset
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return scipy.linalg.sqrtm((s1 + eye) @ (s2 + eye))

    def usable(m: np.ndarray) -> bool:
        return bool(np.isfinite(m).all()) and (not np.iscomplexobj(m)
                                               or np.abs(np.diagonal(m).imag).max() <= 1e-3)

    covmean = sqrt_product(0.0)
    if not usable(covmean):
        covmean = sqrt_product(eps)
        if not usable(covmean):
            raise ValueError("sqrtm(sigma1 @ sigma2) has a large imaginary part even with an eps offset; "
                             "are the covariances valid?")
    covmean = covmean.real
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def frechet_distance_low_rank(features: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """:func:`frechet_distance` between the statistics of ``features`` (n x D) and N(mu2, sigma2), exactly,
    without a D x D matrix square root.

    With B the centred features, sigma1 = B^T B / (n - 1), and the non-zero eigenvalues of
    sigma1 @ sigma2 are those of the n x n PSD matrix B sigma2 B^T / (n - 1); the trace of
    sqrtm(sigma1 @ sigma2) is the sum of their square roots (negative round-off clamped to 0).
    O(n D^2), worthwhile when n < D.
    """
    f = np.asarray(features, np.float64)
    n = f.shape[0]
    if f.ndim != 2 or n < 2:
        raise InputError(f"FID needs at least 2 images, got features of shape {f.shape}")
    mu1 = f.mean(0)
    b = f - mu1
    s2 = np.asarray(sigma2, np.float64)
    m = b @ s2 @ b.T / (n - 1)
    lam = np.linalg.eigvalsh((m + m.T) / 2)
    diff = mu1 - np.asarray(mu2, np.float64)
    return float(diff @ diff + (b * b).sum() / (n - 1) + np.trace(s2) - 2 * np.sqrt(np.clip(lam, 0, None)).sum())


@dataclass
class FeatureStats:
    mu: np.ndarray
    sigma: np.ndarray
    n: int

    @classmethod
    def of(cls, features: np.ndarray) -> "FeatureStats":
        f = np.asarray(features, np.float64)
        if f.ndim != 2 or f.shape[0] < 2:
            raise InputError(f"FID needs at least 2 images, got features of shape {f.shape}")
        return cls(f.mean(0), np.cov(f, rowvar=False), f.shape[0])


# ---------------------------------------------------------------------------
# Feature networks


@dataclass(frozen=True)
class FeatureNet:
    """A network whose pooled features FID compares."""

    name: str
    #: How results computed with it are reported.
    label: str
    load: Callable[[], nn.Module]
    #: Whether its weights are on disk already (no download, no conversion).
    available: Callable[[], bool]


FEATURE_NETS: dict[str, FeatureNet] = {
    "inception-pytorch-fid": FeatureNet(
        "inception-pytorch-fid", "FID (standard InceptionV3, pytorch-fid weights)", load_pytorch_fid_inception,
        lambda: on_disk(FID_INCEPTION)),
    "inception-nsfwjs": FeatureNet(
        "inception-nsfwjs", "FID (nsfwjs InceptionV3 features; not comparable with published FID)",
        load_nsfwjs_inception, lambda: on_disk(NSFWJS_INCEPTION)),
}


def pick_feature_net(name: str = "auto") -> str:
    """``auto``: the first feature network whose weights are on disk, in :data:`FEATURE_NETS` order (the
    standard network first). Results always name the network used."""
    if name != "auto":
        if name not in FEATURE_NETS:
            raise InputError(f"unknown FID extractor {name!r}; known: auto, {', '.join(FEATURE_NETS)}")
        return name
    for key, net in FEATURE_NETS.items():
        if net.available():
            return key
    raise WeightsError(
        "FID needs InceptionV3 weights and none are on disk. Either put pt_inception-2015-12-05-6726825d.pth "
        "(pytorch-fid's release) in the cache dir or set $IRODORI_FID_INCEPTION, and use "
        "--fid-extractor inception-pytorch-fid (or let it download); or run `irodori convert-weights nsfwjs` "
        "for the nsfwjs features (not comparable with published FID).")


@torch.inference_mode()
def extract_features(model: nn.Module, images: Sequence[np.ndarray], batch_size: int = 16,
                     device: str | torch.device = "cpu") -> np.ndarray:
    """``H×W×3`` float images in [0, 1] -> (N, D) float64 features."""
    out = []
    for s in range(0, len(images), batch_size):
        x = torch.from_numpy(np.stack([np.asarray(im, np.float32) for im in images[s:s + batch_size]]))
        out.append(model(x.permute(0, 3, 1, 2).to(device)).double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0))


# ---------------------------------------------------------------------------
# Reference statistics cache


def stats_path(key: dict) -> Path:
    """Cache file for the statistics described by ``key`` (a JSON-able dict naming dataset and feature network)."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    return cache_dir() / "fid_stats" / f"{key.get('extractor', 'features')}-{digest}.npz"


def load_stats(path: Path) -> FeatureStats | None:
    try:
        with np.load(path) as z:
            return FeatureStats(z["mu"], z["sigma"], int(z["n"]))
    except (OSError, ValueError, KeyError, EOFError):
        return None  # missing or unreadable: recompute (and overwrite)


def save_stats(path: Path, stats: FeatureStats, key: dict) -> None:
    atomic_write_bytes(path, lambda f: np.savez(f, mu=stats.mu, sigma=stats.sigma, n=stats.n,
                                                key=json.dumps(key, sort_keys=True)))


class FID:
    """FID with one feature network, loaded once and reused across models (``irodori table1`` evaluates several)."""

    def __init__(self, feature_net: str = "auto", batch_size: int = 16, device: str | torch.device = "cpu",
                 model: nn.Module | None = None):
        self.name = pick_feature_net(feature_net)
        self.label = FEATURE_NETS[self.name].label
        self.batch_size, self.device = batch_size, device
        self.model = (model if model is not None else FEATURE_NETS[self.name].load()).to(device).eval()

    def stats(self, images: Sequence[np.ndarray]) -> FeatureStats:
        return FeatureStats.of(extract_features(self.model, images, self.batch_size, self.device))

    def real_stats(self, images: Sequence[np.ndarray], key: dict | None = None) -> tuple[FeatureStats, bool]:
        """Statistics of the real set, from the cache when ``key`` names it; returns (stats, cache_hit)."""
        if key is None:
            return self.stats(images), False
        key = {**key, "extractor": self.name}  # the key's name is part of every cached file's hash: kept
        path = stats_path(key)
        cached = load_stats(path)
        if cached is not None and cached.n == len(images):
            return cached, True
        stats = self.stats(images)
        save_stats(path, stats, key)
        return stats, False

    def __call__(self, generated: Sequence[np.ndarray], real: Sequence[np.ndarray], key: dict | None = None) -> dict:
        real_stats, hit = self.real_stats(real, key)
        feats = extract_features(self.model, generated, self.batch_size, self.device)
        if feats.shape[0] < feats.shape[1]:
            value, method = frechet_distance_low_rank(feats, real_stats.mu, real_stats.sigma), "low-rank"
        else:
            fake = FeatureStats.of(feats)
            value, method = frechet_distance(fake.mu, fake.sigma, real_stats.mu, real_stats.sigma), "sqrtm"
        return {"fid": value, "fid_extractor": self.name, "fid_label": self.label,
                "fid_real_stats": "cached" if hit else "computed", "fid_method": method}
