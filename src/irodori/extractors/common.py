"""What the learned line extractors share: running a network on a CPU or GPU, image plumbing."""

from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np
import torch


# ---------------------------------------------------------------------------
# Running a network


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` intra-op threads (None: leave as is), restoring the previous count."""
    before = torch.get_num_threads()
    if n is None or n == before:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def module_device(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device


# ---------------------------------------------------------------------------
# Images


def rgb_uint8(image: np.ndarray) -> np.ndarray:
    """``H×W×3 uint8`` RGB from RGB or grey, uint8 or float in [0, 1]."""
    img = np.asarray(image)
    if img.dtype != np.uint8:
        img = np.clip(img.astype(np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an H×W×3 RGB or H×W grey image, got shape {img.shape}")
    return img


def pad_amount(n: int, multiple: int) -> int:
    return -n % multiple
