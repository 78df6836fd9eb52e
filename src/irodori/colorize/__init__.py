"""Colorizing: line art and hints in, the colored illustration and its layers out. Everything a colorization
runs on, and nothing of training:

* :mod:`~irodori.colorize.imageio`: decoding untrusted images, encoding results, the model's tensor layout;
* :mod:`~irodori.colorize.hint_input`: hints from any source as one :class:`HintLayer`;
* :mod:`~irodori.colorize.regions`, :mod:`~irodori.colorize.claims`, :mod:`~irodori.colorize.flats`: the line
  art's regions, which of them the hints claim, and the flats, shading and lines;
* :mod:`~irodori.colorize.layerfile`: the layers as OpenRaster and PSD;
* :mod:`~irodori.colorize.options`: what a caller may choose (:class:`ColorizeOptions`);
* :mod:`~irodori.colorize.model_files`: what a model name or path means;
* :mod:`~irodori.colorize.precision`, :mod:`~irodori.colorize.onnx_backend`: how the generator runs;
* :mod:`~irodori.colorize.pipeline`: the :class:`Colorizer` over all of them.

``tests/test_imports.py`` holds every module here to that: none imports training, datasets, line extractors,
discriminators or baseline networks. Importing this package imports none of its modules (the CLI reads the
options before it loads torch); the names below load their module on first use (PEP 562).
"""

from __future__ import annotations

from irodori.lazy import lazy_names

#: Name -> the module that defines it.
_EXPORTS = {
    "Colorizer": "pipeline", "ColorizeResult": "pipeline", "lineart_to_unit": "pipeline",
    "ColorizeOptions": "options",
    "HintLayer": "hint_input", "hint_layer": "hint_input",
    "ModelFiles": "model_files",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_names(__name__, _EXPORTS, globals())
