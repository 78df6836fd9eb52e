"""The data side (paper §4.1): line extraction, hint simulation, datasets, OpenMoji preparation.

Synthesis is pure functions of an image and an explicit ``numpy.random.Generator``
(:mod:`~irodori.data.lineart`, :mod:`~irodori.data.hints`); the datasets in
:mod:`~irodori.data.datasets` only compose them. :func:`~irodori.data.build.build_dataset` is what the
trainer calls.

Colorizing (:mod:`irodori.colorize`) imports nothing of it. Importing this package imports none of its modules,
so that a module needing one part (evaluation reads :mod:`~irodori.data.imageio`) does not load the datasets,
the corpus or the line extractors. The names below are still importable from here (``from irodori.data import
build_dataset``); each loads its own module on first use (PEP 562).
"""

from __future__ import annotations

from irodori.lazy import lazy_names

#: Name -> the module that defines it.
_EXPORTS = {
    "build_dataset": "build", "SYNTHETIC_SIZE": "build",
    "CorpusPairs": "corpus",
    "Danbooru2019": "datasets", "IllustrationFolder": "datasets", "OpenMojiPairs": "datasets",
    "random_crop_flip": "geometry", "random_scaled_crop": "geometry",
    "SampleSpec": "sample", "make_sample": "sample",
    "hash_split": "splits",
    "SyntheticShapes": "synthetic", "draw_shapes": "synthetic",
    "HintPatches": "hints", "paint_patches": "hints", "sample_hint_patches": "hints", "simulate_hints": "hints",
    "simulate_region_hints": "hints", "simulate_strokes": "hints",
    "load_rgb": "imageio", "tensor_to_rgb": "imageio",
    "LINE_EXTRACTORS": "lineart", "OFFLINE_MIXTURE": "lineart", "PAPER_MIXTURE": "lineart",
    "augment_lines": "lineart", "check_methods": "lineart", "extract_lineart": "lineart",
    "extract_morph": "lineart", "extract_xdog": "lineart",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_names(__name__, _EXPORTS, globals())
