"""Image files read for training and evaluation, and the training samples' tensor layout.

Files are decoded to 8-bit RGB as everything else decodes them (:func:`irodori.colorize.imageio.to_rgb_array`);
the tensors are the layout docs/DESIGN.md "Tensors" describes, which the generator's inputs at inference
(:func:`irodori.colorize.imageio.model_inputs`) share (``tests/test_data_hints.py`` checks they agree).
"""

from __future__ import annotations

import os

import numpy as np
import torch
from PIL import Image

from irodori.colorize.imageio import READ_ERRORS, to_rgb_array, upright
from irodori.errors import InputError


def load_rgb(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as an ``H×W×3 uint8`` RGB array (EXIF orientation applied).

    Raises :class:`irodori.errors.InputError` when the file is missing or cannot be decoded.
    """
    try:
        with Image.open(path) as im:
            im.load()
            return to_rgb_array(upright(im))
    except READ_ERRORS as exc:
        raise InputError(f"cannot read image {path}: {exc}") from exc


def load_grey(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as an ``H×W float32`` array in [0, 1] (luma of :func:`load_rgb`)."""
    import cv2

    rgb = load_rgb(path)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) * (1.0 / 255.0)


def can_open(path: str | os.PathLike) -> bool:
    """Cheap check (header only): whether Pillow recognizes the file as an image."""
    try:
        with Image.open(path) as im:
            im.size  # noqa: B018 - the header was parsed if we get here
        return True
    except READ_ERRORS:
        return False


# ---------------------------------------------------------------------------
# Arrays <-> tensors (the layout documented in docs/DESIGN.md "Tensors")


def rgb_to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """``H×W×3 uint8`` -> ``3×H×W float32`` in [-1, 1]."""
    chw = rgb.transpose(2, 0, 1).astype(np.float32, order="C")
    chw *= 1.0 / 127.5
    chw -= 1.0
    return torch.from_numpy(chw)


def unit_to_tensor(x: np.ndarray, inplace: bool = False) -> torch.Tensor:
    """``H×W`` or ``H×W×C float32`` in [0, 1] -> ``C×H×W float32`` in [-1, 1] (C = 1 for 2-D input).

    ``inplace`` rescales a contiguous float32 ``x`` in its own memory (the tensor shares it).
    """
    x = x[None] if x.ndim == 2 else x.transpose(2, 0, 1)
    if inplace and x.dtype == np.float32 and x.flags.c_contiguous and x.flags.writeable:
        out = x
        out *= np.float32(2.0)
    else:
        out = x * np.float32(2.0)
    out -= 1.0
    return torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32))


def tensor_to_rgb(x: torch.Tensor) -> np.ndarray:
    """``3×H×W`` (or ``1×H×W``) in [-1, 1] -> ``H×W×3 uint8``: the inverse of :func:`rgb_to_tensor`."""
    x = x.detach().float().cpu()
    if x.shape[0] == 1:
        x = x.expand(3, -1, -1)
    arr = ((x.clamp(-1, 1) + 1) * 127.5 + 0.5).to(torch.uint8)
    return arr.permute(1, 2, 0).contiguous().numpy()
