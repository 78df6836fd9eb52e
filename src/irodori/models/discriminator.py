"""Multi-scale PatchGAN discriminators (pix2pixHD), returning every layer's features."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class PatchDiscriminator(nn.Module):
    """PatchGAN: ``n_layers`` stride-2 4x4 convs, one stride-1 conv, then a 1-channel logit map.

    With n_layers=3 the receptive field is 70x70 (paper §3.2). Instance norm
    after every layer but the first and the last.
    """

    def __init__(self, in_channels: int = 4, ndf: int = 64, n_layers: int = 3, norm: str = "instance"):
        super().__init__()
        pad = math.ceil((4 - 1) / 2)
        nf = ndf
        seq = [nn.Sequential(nn.Conv2d(in_channels, nf, 4, 2, pad), nn.LeakyReLU(0.2))]
        for n in range(1, n_layers + 1):
            prev, nf = nf, min(nf * 2, 512)
            stride = 2 if n < n_layers else 1
            layers = [nn.Conv2d(prev, nf, 4, stride, pad)]
            if norm == "instance":
                layers.append(nn.InstanceNorm2d(nf))
            seq.append(nn.Sequential(*layers, nn.LeakyReLU(0.2)))
        seq.append(nn.Sequential(nn.Conv2d(nf, 1, 4, 1, pad)))
        self.layers = nn.ModuleList(seq)

    def forward(self, x) -> list[torch.Tensor]:
        feats = []
        for layer in self.layers:
            x = layer(x)
            feats.append(x)
        return feats  # the last entry is the logit map


class MultiScaleDiscriminator(nn.Module):
    """``num_d`` identical PatchGANs on the input, 1/2, 1/4, ... resolution; input is ``cat(line, rgb)``."""

    def __init__(self, num_d: int = 3, in_channels: int = 4, ndf: int = 64, n_layers: int = 3,
                 norm: str = "instance"):
        super().__init__()
        self.discriminators = nn.ModuleList(
            PatchDiscriminator(in_channels, ndf, n_layers, norm) for _ in range(num_d)
        )

    def forward(self, line, rgb) -> list[list[torch.Tensor]]:
        x = torch.cat([line, rgb], 1)
        out = []
        for i, d in enumerate(self.discriminators):
            if i:
                x = F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
            out.append(d(x))
        return out
