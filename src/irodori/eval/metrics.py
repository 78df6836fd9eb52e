"""Per-image metrics, in a plain dict registry (stylegan3 style).

Every metric takes ``(output, truth, line, hint, mask)`` as numpy arrays: output and
truth ``H×W×3`` in [0, 1], line ``H×W`` in [0, 1] (white = 1), hint ``H×W×3`` in
[0, 1] and mask ``H×W`` in {0, 1}; it returns a float, or NaN when it does not apply
to that image (e.g. no hinted pixel off the lines). Means skip NaNs.
"""

from __future__ import annotations

import cv2
import numpy as np

from irodori.eval.color import delta_e76

#: Pixels darker than this in the line art are "on a line".
LINE_THRESHOLD = 0.5


def psnr(output, truth, *_):
    mse = float(np.mean((output.astype(np.float64) - truth) ** 2))
    return 100.0 if mse == 0 else 10 * np.log10(1.0 / mse)


def ssim(output, truth, *_):
    """Mean SSIM over the RGB channels (Gaussian window σ = 1.5, Wang et al. 2004 constants)."""
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    vals = []
    for ch in range(3):
        x, y = output[..., ch].astype(np.float64), truth[..., ch].astype(np.float64)
        blur = lambda a: cv2.GaussianBlur(a, (11, 11), 1.5)  # noqa: E731
        mx, my = blur(x), blur(y)
        vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
        s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
        vals.append(s.mean())
    return float(np.mean(vals))


def hint_delta_e(output, truth, line, hint, mask):
    """Mean ΔE76 between the output and the hint color at hinted pixels off the lines: does the model
    paint what the user asked for where the user asked?"""
    sel = (mask > 0.5) & (line > LINE_THRESHOLD)
    if not sel.any():
        return float("nan")
    return float(delta_e76(output[sel], hint[sel]).mean())


METRICS = {"psnr": psnr, "ssim": ssim, "hint_de": hint_delta_e}
