"""The illustration corpus made by ``irodori prepare all`` as a dataset (``data.dataset: corpus``).

``root`` holds one folder per source (``openmoji``, ``openclipart``, ``dicebear``, ``wesnoth``,
``naev``; any folder with a ``manifest.json`` counts), each with ``color/``, a ``manifest.json`` and,
for sources with real line art, ``black/``. Files marked ``duplicate_of`` or ``excluded`` are skipped.

Sampling: in the ``train`` split (and ``all``) item ``i`` draws its source from ``weights`` (source
name -> weight; empty: every present source, weighted by its number of files) and then a file of that
source uniformly, all from the item's generator; in ``val``/``test`` item ``i`` is simply the ``i``-th
file, so an evaluation sees every file once. Pairs use ``black/`` except with probability
``extract_prob``, when the line art is extracted from colour by the mixture; paintings are always
extracted. The crop is :func:`~irodori.data.geometry.random_scaled_crop` and the sample is
:func:`~irodori.data.datasets.make_sample`'s, exactly as :class:`~irodori.data.datasets.OpenMojiPairs`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Mapping, NamedTuple

import numpy as np

from irodori.data.datasets import SampleDataset
from irodori.data.geometry import random_scaled_crop
from irodori.data.sample import make_sample
from irodori.data.splits import check_split, is_kept
from irodori.data.imageio import load_grey, load_rgb
from irodori.errors import ConfigError, InputError


class CorpusSource(NamedTuple):
    """One source folder: its names in the split, whether it has line art, and its files' extensions
    (``.png`` in a prepared corpus; a pack, :mod:`irodori.data.sources.pack`, names others in its manifest)."""

    names: list[str]
    paired: bool
    color_ext: str = ".png"
    black_ext: str = ".png"


def read_corpus(root: Path, split: str) -> dict[str, CorpusSource]:
    """``source -> CorpusSource`` for every source folder under ``root``."""
    found = {}
    for sub in sorted(p for p in root.iterdir() if (p / "manifest.json").is_file()):
        try:
            manifest = json.loads((sub / "manifest.json").read_text(encoding="utf-8"))
            files, encoding = manifest["files"], manifest.get("encoding") or {}
            exts = (str(encoding.get("color", ".png")), str(encoding.get("black", ".png")))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"{sub / 'manifest.json'} is not a corpus manifest ({exc})") from None
        names = sorted(n for n, r in files.items()
                       if is_kept(r) and (split == "all" or r.get("split") == split))
        found[sub.name] = CorpusSource(names, (sub / "black").is_dir(), *exts)
    return found


def source_weights(counts: Mapping[str, int], weights: Mapping[str, float] | None) -> dict[str, float]:
    """Normalized weights over the sources with files; ``weights`` empty -> proportional to counts.
    A named source that is missing or empty, or a negative weight, is a ConfigError."""
    if not weights:
        chosen = {k: float(v) for k, v in counts.items() if v > 0}
    else:
        for name, w in weights.items():
            if w < 0:
                raise ConfigError(f"data.sources: weight of {name!r} must be >= 0, got {w}")
            if w > 0 and counts.get(name, 0) == 0:
                raise ConfigError(f"data.sources names {name!r}, which has no images here "
                                  f"(present: {', '.join(k for k, v in counts.items() if v) or 'none'})")
        chosen = {k: float(w) for k, w in weights.items() if w > 0}
    total = sum(chosen.values())
    if total <= 0:
        raise ConfigError("data.sources: no source with a positive weight and images")
    return {k: v / total for k, v in chosen.items()}


class CorpusPairs(SampleDataset):
    """Line art / colour samples from the corpus under ``root`` (see the module docstring)."""

    def __init__(self, root: str | os.PathLike, split: str = "train", size: int = 512, seed: int = 0, *,
                 sources: Mapping[str, float] | None = None, extract_prob: float = 0.0,
                 crop_scale: tuple[float, float] = (0.75, 1.0), **spec):
        super().__init__(seed, size=size, **spec)
        self.root = Path(root)
        self.split = check_split(split)
        if not 0 <= extract_prob <= 1:
            raise ConfigError(f"extract_prob must lie in [0, 1], got {extract_prob}")
        if not self.root.is_dir():
            raise InputError(f"corpus folder not found: {self.root} (build it with `irodori prepare all --out DIR`)")
        self.extract_prob = float(extract_prob)
        self.crop_scale = (float(crop_scale[0]), float(crop_scale[1]))
        found = read_corpus(self.root, self.split)
        if not any(src.names for src in found.values()):
            raise InputError(f"{self.root} holds no corpus images in split {split!r}")
        self.weights = source_weights({k: len(v.names) for k, v in found.items()}, sources)
        self.sources = {k: found[k] for k in self.weights}
        self.items = [(k, n) for k in self.sources for n in self.sources[k].names]

    def __len__(self) -> int:
        return len(self.items)

    def pick(self, index: int, rng: np.random.Generator) -> tuple[str, str]:
        """The ``(source, name)`` of item ``index``."""
        if self.split in ("val", "test"):
            return self.items[index]
        keys = list(self.weights)
        source = keys[int(rng.choice(len(keys), p=[self.weights[k] for k in keys]))]
        names = self.sources[source].names
        return source, names[int(rng.integers(len(names)))]

    def sample(self, index, rng):
        source, name = self.pick(index, rng)
        src = self.sources[source]
        use_extracted = not src.paired or rng.random() < self.extract_prob
        color = load_rgb(self.root / source / "color" / f"{name}{src.color_ext}")
        if use_extracted:
            (color,) = random_scaled_crop([color], self.spec.size, rng, self.crop_scale)
            return make_sample(color, rng, self.spec)
        line = load_grey(self.root / source / "black" / f"{name}{src.black_ext}")
        if line.shape != color.shape[:2]:
            raise InputError(f"{self.root / source}: color and black images of {name} differ in size")
        color, line = random_scaled_crop([color, line], self.spec.size, rng, self.crop_scale)
        return make_sample(color, rng, self.spec, line=line)
