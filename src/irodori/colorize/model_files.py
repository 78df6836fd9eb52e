"""What a model name or path means, decided in one place: which weights load
(:meth:`irodori.colorize.pipeline.Colorizer.from_pretrained`), which model card the page shows
(:func:`irodori.web.app.find_model_card`) and the name it shows (``irodori serve``, ``irodori export-web``).

Only cheap imports here: the CLI reads it before it loads torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from irodori.errors import IrodoriError

ASSET_DIR = Path(__file__).parents[1] / "assets" / "models"
#: Bundled models: name -> file in irodori/assets/models (config next to it as .json, card as .md).
BUNDLED = {"demo": "demo.safetensors"}
#: The release file a model directory holds, and the card beside a release or inside a directory.
RELEASE_FILE = "model.safetensors"
CARD_FILE = "MODEL_CARD.md"


@dataclass(frozen=True)
class ModelFiles:
    """The files of one model. ``name``: as a page shows it, with no server paths (the bundled name, a
    directory's name, else the file's stem). ``weights``: the release file (config as ``.json`` beside it), an
    ``.onnx`` file, or a training run directory (``run``: its newest EMA generator loads). ``cards``: where its
    model card may be, in the order they are read."""

    name: str
    weights: Path
    cards: tuple[Path, ...]
    run: bool = False

    @property
    def card(self) -> Path | None:
        """The first of :attr:`cards` that is a file; None when the model has no card."""
        return next((path for path in self.cards if path.is_file()), None)


def model_files(path_or_name: str | os.PathLike) -> ModelFiles:
    """The files ``path_or_name`` names: a bundled model's name (``demo``; its card ``NAME.md`` beside the
    weights), a release file or ``.onnx`` file (card: ``MODEL_CARD.md`` beside it, else the file's name with
    ``.md``), a directory holding :data:`RELEASE_FILE`, or a training run directory (one with ``checkpoints/``;
    card: ``MODEL_CARD.md`` inside either). :class:`IrodoriError` for a bundled model missing from this
    installation."""
    key = str(path_or_name)
    if key in BUNDLED:
        weights = ASSET_DIR / BUNDLED[key]
        if not weights.is_file():
            raise IrodoriError(f"the bundled model {key!r} is not in this installation ({weights} is missing)")
        return ModelFiles(key, weights, (weights.with_suffix(".md"),))
    path = Path(key)
    if path.is_dir():
        run = (path / "checkpoints").is_dir()
        return ModelFiles(path.name, path if run else path / RELEASE_FILE, (path / CARD_FILE,), run)
    return ModelFiles(path.stem, path, (path.parent / CARD_FILE, path.with_suffix(".md")))
