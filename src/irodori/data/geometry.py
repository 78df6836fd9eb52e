"""Crops, resizes and flips for training samples: pure functions of the arrays and an explicit rng."""

from __future__ import annotations

import cv2
import numpy as np


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Area filter when shrinking, bicubic when enlarging."""
    h, w = image.shape[:2]
    if (h, w) == (height, width):
        return image
    interp = cv2.INTER_AREA if height * width < h * w else cv2.INTER_CUBIC
    out = cv2.resize(image, (width, height), interpolation=interp)
    if out.dtype == np.float32:
        np.clip(out, 0.0, 1.0, out=out)  # bicubic overshoots
    return out


def cover(image: np.ndarray, size: int) -> np.ndarray:
    """Upscale (keeping the aspect ratio) so that both sides are at least ``size``; never shrinks."""
    h, w = image.shape[:2]
    if min(h, w) >= size:
        return image
    scale = size / min(h, w)
    return resize(image, max(size, round(h * scale)), max(size, round(w * scale)))


def random_crop_flip(image: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``size×size`` crop (the image upscaled first if smaller), flipped left-right half the time."""
    image = cover(image, size)
    h, w = image.shape[:2]
    y = int(rng.integers(0, h - size, endpoint=True))
    x = int(rng.integers(0, w - size, endpoint=True))
    crop = image[y:y + size, x:x + size]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return np.ascontiguousarray(crop)


def random_scaled_crop(images: list[np.ndarray], size: int, rng: np.random.Generator,
                       scale: tuple[float, float] = (0.75, 1.0)) -> list[np.ndarray]:
    """One square crop of side ``U(scale) × min(H, W)`` at a random place, the same for every image,
    each resized to ``size×size`` and flipped left-right together half the time."""
    h, w = images[0].shape[:2]
    side = max(1, min(h, w, round(rng.uniform(*scale) * min(h, w))))
    y = int(rng.integers(0, h - side, endpoint=True))
    x = int(rng.integers(0, w - side, endpoint=True))
    flip = rng.random() < 0.5
    out = []
    for im in images:
        crop = resize(im[y:y + side, x:x + side], size, size)
        out.append(np.ascontiguousarray(crop[:, ::-1] if flip else crop))
    return out
