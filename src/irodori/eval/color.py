"""sRGB <-> CIELAB (D65) for color-difference metrics."""

from __future__ import annotations

import numpy as np

_RGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                        [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]])
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """``...×3`` sRGB in [0, 1] -> CIELAB (L in 0..100)."""
    rgb = np.asarray(rgb, np.float64)
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = lin @ _RGB_TO_XYZ.T / _WHITE_D65
    eps, kappa = 216 / 24389, 24389 / 27
    f = np.where(xyz > eps, np.cbrt(xyz), (kappa * xyz + 16) / 116)
    L = 116 * f[..., 1] - 16
    a = 500 * (f[..., 0] - f[..., 1])
    b = 200 * (f[..., 1] - f[..., 2])
    return np.stack([L, a, b], -1)


def delta_e76(rgb1: np.ndarray, rgb2: np.ndarray) -> np.ndarray:
    """CIE76 color difference between two sRGB arrays in [0, 1] (Euclidean distance in Lab)."""
    return np.linalg.norm(srgb_to_lab(rgb1) - srgb_to_lab(rgb2), axis=-1)
