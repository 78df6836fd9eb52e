"""What a caller may choose about a colorization, declared once: the choices and ranges that the CLI
(``colorize``, ``serve``, ``bench``), the web API and :class:`~irodori.colorize.pipeline.Colorizer` offer, and
:class:`ColorizeOptions`, which checks one set of them.

Only cheap imports here: the CLI reads these choices to build its parsers before it loads torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from irodori.colorize.flats import DEFAULT_SHADING, FLATS_MODES
from irodori.colorize.regions import MAX_GAP_RANGE
from irodori.config import PRECISIONS, RESOLUTION_RANGE, WORKING_SIZE
from irodori.errors import InputError

#: How the generator runs: the torch module, or its ONNX export in ONNX Runtime (CPU).
BACKENDS = ("torch", "onnx")
#: How much of the model's light and shadow shows over a hint's flat color, inclusive.
SHADING_RANGE = (0.0, 1.0)

__all__ = ["BACKENDS", "ColorizeOptions", "DEFAULT_SHADING", "FLATS_MODES", "MAX_GAP_RANGE", "PRECISIONS",
           "RESOLUTION_RANGE", "SHADING_RANGE", "WORKING_SIZE", "check_choice"]


def check_choice(name: str, value, choices, error: type[Exception] = InputError) -> None:
    """``error`` naming ``name`` and the choices unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise error(f"{name} must be one of {', '.join(choices)}, got {value!r}")


@dataclass(frozen=True)
class ColorizeOptions:
    """One colorization's choices, checked when made (:class:`~irodori.errors.InputError` naming the field).

    ``flats``: one of :data:`FLATS_MODES` (:mod:`irodori.colorize.flats`); ``shading`` in :data:`SHADING_RANGE`;
    ``max_gap``: the widest gap in a line (px, :data:`MAX_GAP_RANGE`) that still closes a region, None to
    scale it with the image; ``resolution``: the working long side (px, :data:`RESOLUTION_RANGE`), None (or 0)
    for :data:`WORKING_SIZE`. ``backend`` (:data:`BACKENDS`) and ``precision`` (:data:`PRECISIONS`): how the
    generator runs, read when it is loaded (:meth:`~irodori.colorize.pipeline.Colorizer.load`); a loaded
    :class:`~irodori.colorize.pipeline.Colorizer` reads the other four on each call."""

    flats: str = "regions"
    shading: float = DEFAULT_SHADING
    max_gap: int | None = None
    resolution: int | None = None
    backend: str = "torch"
    precision: str = "fp32"

    def __post_init__(self):
        check_choice("flats", self.flats, FLATS_MODES)
        low, high = SHADING_RANGE
        if not (isinstance(self.shading, (int, float)) and low <= self.shading <= high):
            raise InputError(f"shading must lie in [{low:g}, {high:g}], got {self.shading!r}")
        if self.max_gap is not None and not MAX_GAP_RANGE[0] <= self.max_gap <= MAX_GAP_RANGE[1]:
            raise InputError(f"max_gap must lie in {MAX_GAP_RANGE[0]}..{MAX_GAP_RANGE[1]} px, got {self.max_gap}")
        if self.resolution and not RESOLUTION_RANGE[0] <= self.resolution <= RESOLUTION_RANGE[1]:
            raise InputError(f"resolution must lie in {RESOLUTION_RANGE[0]}..{RESOLUTION_RANGE[1]}, "
                             f"got {self.resolution}")
        check_choice("backend", self.backend, BACKENDS)
        check_choice("precision", self.precision, PRECISIONS)

    @property
    def long_side(self) -> int:
        """The working long side the model runs at."""
        return self.resolution or WORKING_SIZE

    @property
    def generator_precision(self) -> str:
        """The precision the generator loads in: :attr:`precision` for the torch backend; ONNX Runtime runs the
        fp32 export, whatever was asked."""
        return self.precision if self.backend == "torch" else "fp32"
