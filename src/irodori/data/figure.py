"""The figure of a drawing: every pixel but the page around it (training-data checks and evaluation share it)."""

from __future__ import annotations

import cv2
import numpy as np

#: A truth pixel this close to white (every channel) may be the page around the figure.
PAPER_LEVEL = 0.94


def figure_mask(truth: np.ndarray) -> np.ndarray:
    """The figure: every pixel but the page around it, i.e. the near-white truth pixels (all channels
    ≥ ``PAPER_LEVEL``) 4-connected to the image border. A painting with no white border is all figure."""
    paper = (truth >= PAPER_LEVEL).all(axis=-1).astype(np.uint8)
    n, labels = cv2.connectedComponents(paper, connectivity=4)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    outer = np.isin(labels, border[border > 0])
    return ~outer
