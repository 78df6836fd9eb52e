"""Small building blocks shared by the generators."""

from __future__ import annotations

import torch.nn as nn


def norm_layer(kind: str, channels: int) -> nn.Module:
    if kind == "none":
        return nn.Identity()
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    raise ValueError(f"unknown norm {kind!r}")


def conv_block(in_ch: int, out_ch: int, *, stride: int = 1, norm: str = "none") -> nn.Sequential:
    """3x3 conv -> norm -> LeakyReLU(0.2)."""
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, stride, 1), norm_layer(norm, out_ch), nn.LeakyReLU(0.2))
