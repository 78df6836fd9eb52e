"""The dataset classes over files (a folder, Danbooru2019, OpenMoji pairs); they only compose the pure
functions of this package (:mod:`~irodori.data.geometry`, :mod:`~irodori.data.sample`). Procedural shapes
live in :mod:`irodori.data.synthetic`, the corpus in :mod:`irodori.data.corpus`.

Each item is a dict of float32 tensors (docs/DESIGN.md "Tensors"):

- ``line``  1×S×S in [-1, 1], white paper = 1
- ``hint``  3×S×S in [-1, 1], 0 where there is no hint
- ``mask``  1×S×S in {0, 1}
- ``color`` 3×S×S in [-1, 1], the ground truth

Determinism and resume: every dataset takes ``seed``; ``ds[index]`` and ``ds[(epoch, index)]``
draw all randomness of that item from ``np.random.default_rng([seed, epoch, index])`` (epoch 0
for a plain int), so the same key gives the same sample in any process or worker.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Mapping

import numpy as np
import torch
from torch.utils.data import Dataset

from irodori.errors import ConfigError, InputError
from irodori.colorize.imageio import find_images
from irodori.data.imageio import can_open, load_grey, load_rgb
from irodori.data.lineart import PAPER_MIXTURE, check_methods
from irodori.data.geometry import random_crop_flip, random_scaled_crop
from irodori.data.sample import SampleSpec, make_sample
from irodori.data.splits import check_split, hash_split


class SampleDataset(Dataset):
    """Base class: resolves ``key`` -> ``(epoch, index)`` and the item's generator; subclasses
    implement ``__len__`` and ``sample(index, rng)``."""

    def __init__(self, seed: int = 0, *, size: int = 512, line_methods: Mapping[str, float] | None = None,
                 hint_p: float = 0.125, hint_max_size: int = 8, stroke_prob: float = 0.0,
                 scribble_prob: float = 0.0, line_aug: float = 0.0):
        if seed < 0:
            raise ConfigError(f"seed must be >= 0, got {seed}")
        methods = dict(PAPER_MIXTURE if line_methods is None else line_methods)
        check_methods(methods)
        self.seed = int(seed)
        self.spec = SampleSpec(size=int(size), line_methods=methods, hint_p=float(hint_p),
                               hint_max_size=int(hint_max_size), stroke_prob=float(stroke_prob),
                               scribble_prob=float(scribble_prob), line_aug=float(line_aug))

    def sample(self, index: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def rng_key(self, epoch: int, index: int) -> list[int]:
        return [self.seed, epoch, index]

    def __getitem__(self, key) -> dict[str, torch.Tensor]:
        if isinstance(key, tuple):
            epoch, index = (int(k) for k in key)
        else:
            epoch, index = 0, int(key)
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for a dataset of {n}")
        if epoch < 0:
            raise IndexError(f"epoch must be >= 0, got {epoch}")
        index %= n
        return self.sample(index, np.random.default_rng(self.rng_key(epoch, index)))


class _FileImages(SampleDataset):
    """Images read from a list of files; a file that fails to decode at load time is replaced by
    another (drawn from the item's generator, so still deterministic), with one warning per process."""

    paths: list[str]
    _max_retries = 10

    def __len__(self) -> int:
        return len(self.paths)

    def _load(self, index: int, rng: np.random.Generator) -> np.ndarray:
        for _ in range(self._max_retries):
            try:
                return load_rgb(self.paths[index])
            except InputError as exc:
                self._failed = getattr(self, "_failed", 0) + 1
                if self._failed == 1:
                    warnings.warn(f"{type(self).__name__}: {exc}; using another image instead "
                                  "(further failures in this process are not reported)", stacklevel=3)
                index = int(rng.integers(len(self.paths)))
        raise InputError(f"{type(self).__name__}: {self._max_retries} images in a row could not be read")

    def sample(self, index, rng):
        color = random_crop_flip(self._load(index, rng), self.spec.size, rng)
        return make_sample(color, rng, self.spec)


class IllustrationFolder(_FileImages):
    """Every image under ``root`` (recursively; png, jpg, webp, bmp, gif, tiff).

    RGBA is composited on white; palette, 16-bit and greyscale images are converted to RGB.
    Files whose header cannot be read are skipped and reported in one warning (``verify=False``
    skips that scan for huge folders; a file failing later is replaced as in every file dataset).
    Random ``size`` crops and flips; images smaller than the crop are upscaled first.
    ``split`` "all" keeps every file; "train"/"val"/"test" split by :func:`hash_split` of the
    path relative to ``root`` (10% test, 10% val).
    """

    def __init__(self, root: str | os.PathLike, size: int = 512, seed: int = 0, *, split: str = "all",
                 verify: bool = True, **spec):
        super().__init__(seed, size=size, **spec)
        self.root = Path(root)
        self.split = check_split(split)
        if not self.root.is_dir():
            raise InputError(f"image folder not found: {self.root}")
        files = find_images(self.root)
        if split != "all":
            files = [f for f in files if hash_split(f.relative_to(self.root).as_posix()) == split]
        if verify:
            bad = [f for f in files if not can_open(f)]
            if bad:
                shown = ", ".join(str(f.relative_to(self.root)) for f in bad[:5])
                more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
                warnings.warn(f"IllustrationFolder: skipped {len(bad)} unreadable image file(s) under "
                              f"{self.root}: {shown}{more}", stacklevel=2)
                bad_set = set(bad)
                files = [f for f in files if f not in bad_set]
        if not files:
            where = "" if split == "all" else f" in split {split!r}"
            raise InputError(f"no readable images under {self.root}{where}")
        self.paths = [str(f) for f in files]


#: Danbooru tags whose images have no color to learn (the paper filters these out).
DANBOORU_GREY_TAGS = frozenset({"greyscale", "monochrome"})


def read_danbooru_metadata(metadata: str | os.PathLike) -> tuple[set[str], int]:
    """Ids of the color images listed in Danbooru JSON-lines metadata (a file, or a folder of them).

    Returns ``(kept_ids, n_dropped)``; an image with a ``greyscale`` or ``monochrome`` tag is dropped.
    """
    metadata = Path(metadata)
    if metadata.is_dir():
        files = sorted(p for p in metadata.iterdir() if p.is_file() and not p.name.startswith("."))
    elif metadata.is_file():
        files = [metadata]
    else:
        raise InputError(f"Danbooru metadata not found: {metadata}")
    kept, dropped = set(), 0
    for path in files:
        with open(path, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    tags = {t["name"] if isinstance(t, dict) else str(t) for t in record.get("tags", ())}
                    key = str(record["id"])
                except (ValueError, KeyError, TypeError) as exc:
                    raise InputError(f"{path}:{lineno}: not a Danbooru metadata record ({exc})") from None
                if tags & DANBOORU_GREY_TAGS:
                    dropped += 1
                else:
                    kept.add(key)
    return kept, dropped


class Danbooru2019(_FileImages):
    """Danbooru2019 in gwern's 512px SFW layout: ``root/512px/NNNN/ID.jpg`` plus JSON-lines metadata.

    Images tagged ``greyscale`` or ``monochrome`` are dropped; the split is :func:`hash_split` of the
    id with 100 buckets (1% test, 1% val, 98% train: the paper's proportions). ``metadata`` defaults
    to ``root/metadata``.
    """

    def __init__(self, root: str | os.PathLike, metadata: str | os.PathLike | None = None, split: str = "train",
                 size: int = 512, seed: int = 0, **spec):
        super().__init__(seed, size=size, **spec)
        self.root = Path(root)
        self.split = check_split(split)
        image_dir = self.root / "512px"
        if not image_dir.is_dir():
            raise InputError(f"{image_dir} not found: expected the Danbooru2019 512px layout root/512px/NNNN/ID.jpg")
        kept, self.num_dropped = read_danbooru_metadata(metadata if metadata else self.root / "metadata")
        found = {}
        for sub in sorted(os.scandir(image_dir), key=lambda e: e.name):
            if not sub.is_dir():
                continue
            for entry in os.scandir(sub.path):
                stem, ext = os.path.splitext(entry.name)
                if ext.lower() in (".jpg", ".jpeg", ".png") and stem in kept:
                    found[stem] = entry.path
        ids = sorted(found, key=lambda s: (len(s), s))  # numeric order for digit ids
        if split != "all":
            ids = [i for i in ids if hash_split(i, buckets=100) == split]
        if not ids:
            raise InputError(f"no Danbooru images under {image_dir} match the metadata" +
                             ("" if split == "all" else f" in split {split!r}"))
        self.ids = ids
        self.paths = [found[i] for i in ids]


class OpenMojiPairs(SampleDataset):
    """Real line art / color pairs from a directory made by ``irodori prepare openmoji``.

    With probability ``extract_prob`` the line art is extracted from the color image by the mixture
    instead of taken from ``black/``. Emoji are whole drawings, so the crop is a random square of
    ``crop_scale`` times the side (the same on line and color), resized to ``size``, plus a flip.
    """

    def __init__(self, root: str | os.PathLike, split: str = "train", size: int = 512, seed: int = 0, *,
                 extract_prob: float = 0.0, crop_scale: tuple[float, float] = (0.75, 1.0), **spec):
        super().__init__(seed, size=size, **spec)
        self.root = Path(root)
        self.split = check_split(split)
        if not 0 <= extract_prob <= 1:
            raise ConfigError(f"extract_prob must lie in [0, 1], got {extract_prob}")
        self.extract_prob = float(extract_prob)
        self.crop_scale = (float(crop_scale[0]), float(crop_scale[1]))
        manifest_path = self.root / "manifest.json"
        try:
            manifest = json.loads(manifest_path.read_text())
            files = manifest["files"]
        except FileNotFoundError:
            raise InputError(f"{manifest_path} not found: prepare the data with "
                             f"`irodori prepare openmoji --out {self.root}`") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{manifest_path} is not an OpenMoji manifest ({exc})") from None
        self.names = sorted(name for name, rec in files.items() if split == "all" or rec["split"] == split)
        if not self.names:
            raise InputError(f"{manifest_path} lists no images in split {split!r}")

    def __len__(self) -> int:
        return len(self.names)

    def sample(self, index, rng):
        name = self.names[index]
        use_extracted = rng.random() < self.extract_prob
        color = load_rgb(self.root / "color" / f"{name}.png")
        if use_extracted:
            (color,) = random_scaled_crop([color], self.spec.size, rng, self.crop_scale)
            return make_sample(color, rng, self.spec)
        line = load_grey(self.root / "black" / f"{name}.png")
        if line.shape != color.shape[:2]:
            raise InputError(f"{self.root}: color and black images of {name} differ in size")
        color, line = random_scaled_crop([color, line], self.spec.size, rng, self.crop_scale)
        return make_sample(color, rng, self.spec, line=line)
