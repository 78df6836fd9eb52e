"""The import path earlier releases documented (``from irodori.pipeline import Colorizer``): the pipeline now
lives in :mod:`irodori.colorize.pipeline`, and this module only names what it defines."""

from irodori.colorize.pipeline import MAX_PIXELS, Colorizer, ColorizeResult, lineart_to_unit, working_size

__all__ = ["MAX_PIXELS", "Colorizer", "ColorizeResult", "lineart_to_unit", "working_size"]
