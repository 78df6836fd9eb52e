"""The data side (paper §4.1): line extraction, hint simulation, datasets, OpenMoji preparation.

Synthesis is pure functions of an image and an explicit ``numpy.random.Generator``
(:mod:`~irodori.data.lineart`, :mod:`~irodori.data.hints`); the datasets in
:mod:`~irodori.data.datasets` only compose them. :func:`build_dataset` is what the trainer calls.
"""

from __future__ import annotations

from torch.utils.data import Dataset

from irodori.config import DataConfig
from irodori.errors import ConfigError
from irodori.data.corpus import CorpusPairs
from irodori.data.datasets import Danbooru2019, IllustrationFolder, OpenMojiPairs
from irodori.data.geometry import random_crop_flip, random_scaled_crop
from irodori.data.sample import SampleSpec, make_sample
from irodori.data.splits import hash_split
from irodori.data.synthetic import SyntheticShapes, draw_shapes
from irodori.data.hints import (
    HintPatches,
    paint_patches,
    sample_hint_patches,
    simulate_hints,
    simulate_region_hints,
    simulate_strokes,
)
from irodori.data.imageio import load_rgb, tensor_to_rgb
from irodori.data.lineart import (
    LINE_EXTRACTORS,
    OFFLINE_MIXTURE,
    augment_lines,
    PAPER_MIXTURE,
    check_methods,
    extract_lineart,
    extract_morph,
    extract_xdog,
)

__all__ = [
    "Danbooru2019", "HintPatches", "IllustrationFolder", "LINE_EXTRACTORS", "OFFLINE_MIXTURE", "OpenMojiPairs",
    "PAPER_MIXTURE", "SampleSpec", "SyntheticShapes", "build_dataset", "check_methods", "draw_shapes",
    "extract_lineart", "extract_morph", "extract_xdog", "hash_split", "load_rgb", "make_sample",
    "paint_patches", "random_crop_flip", "random_scaled_crop", "sample_hint_patches", "simulate_hints",
    "simulate_region_hints", "simulate_strokes", "tensor_to_rgb", "augment_lines",
]

#: Number of images in the "synthetic" dataset built from a config.
SYNTHETIC_SIZE = 256


def build_dataset(cfg: DataConfig, split: str | None = None, seed: int = 0) -> Dataset:
    """The dataset ``cfg.dataset`` names, for ``split`` (default ``cfg.split``), seeded with ``seed``.

    Checks first that every line extraction method in ``cfg.line_methods`` can run
    (:class:`ConfigError` otherwise), then dispatches: "synthetic" -> :class:`SyntheticShapes`
    (256 images), "folder" -> :class:`IllustrationFolder`, "openmoji" -> :class:`OpenMojiPairs`,
    "corpus" -> :class:`~irodori.data.corpus.CorpusPairs`,
    "danbooru" -> :class:`Danbooru2019`; ``cfg.root`` is the data location.
    """
    check_methods(cfg.line_methods)
    split = cfg.split if split is None else split
    spec = dict(size=cfg.size, seed=seed, line_methods=dict(cfg.line_methods), hint_p=cfg.hint_p,
                hint_max_size=cfg.hint_max_size, stroke_prob=cfg.stroke_prob, scribble_prob=cfg.scribble_prob,
                line_aug=cfg.line_aug)
    if cfg.dataset == "synthetic":
        return SyntheticShapes(SYNTHETIC_SIZE, split=split, **spec)
    if not cfg.root:
        raise ConfigError(f"data.root must name the data location for data.dataset={cfg.dataset}")
    if cfg.dataset == "folder":
        return IllustrationFolder(cfg.root, split=split, **spec)
    if cfg.dataset == "openmoji":
        return OpenMojiPairs(cfg.root, split, extract_prob=cfg.extract_prob, crop_scale=cfg.crop_scale, **spec)
    if cfg.dataset == "danbooru":
        return Danbooru2019(cfg.root, cfg.metadata or None, split, **spec)
    if cfg.dataset == "corpus":
        return CorpusPairs(cfg.root, split, sources=dict(cfg.sources), extract_prob=cfg.extract_prob,
                           crop_scale=cfg.crop_scale, **spec)
    raise ConfigError(f"unknown data.dataset {cfg.dataset!r}")
