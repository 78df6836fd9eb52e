"""The dataset a config names: :func:`build_dataset`, what the trainer calls."""

from __future__ import annotations

from torch.utils.data import Dataset

from irodori.config import DataConfig
from irodori.data.corpus import CorpusPairs
from irodori.data.datasets import Danbooru2019, IllustrationFolder, OpenMojiPairs
from irodori.data.lineart import check_methods
from irodori.data.synthetic import SyntheticShapes
from irodori.errors import ConfigError

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
