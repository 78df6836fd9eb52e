"""pix2pixHD global generator (Wang et al. 2018), the paper's first baseline, on the same 5-channel input."""

from __future__ import annotations

import torch
import torch.nn as nn

from irodori.models.csa_unet import apply_output
from irodori.models.layers import norm_layer


class _ResBlock(nn.Module):
    def __init__(self, ch: int, norm: str):
        super().__init__()
        self.net = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), norm_layer(norm, ch), nn.ReLU(),
            nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), norm_layer(norm, ch),
        )

    def forward(self, x):
        return x + self.net(x)


class Pix2PixHDGenerator(nn.Module):
    """c7s1-c0, d(c1..cn) stride-2 3x3, ``num_blocks`` residual blocks, mirrored upsampling, c7s1-3."""

    def __init__(self, channels=(64, 128, 256, 512, 1024), num_blocks: int = 9, norm: str = "instance",
                 output: str = "tanh"):
        super().__init__()
        c = tuple(channels)
        self.output = output
        self.multiple = 2 ** (len(c) - 1)
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(5, c[0], 7), norm_layer(norm, c[0]), nn.ReLU()]
        for a, b in zip(c[:-1], c[1:]):
            layers += [nn.Conv2d(a, b, 3, 2, 1), norm_layer(norm, b), nn.ReLU()]
        self.encoder = nn.Sequential(*layers)
        self.blocks = nn.Sequential(*[_ResBlock(c[-1], norm) for _ in range(num_blocks)])
        layers = []
        for a, b in zip(c[::-1][:-1], c[::-1][1:]):
            layers += [nn.ConvTranspose2d(a, b, 3, 2, 1, output_padding=1), norm_layer(norm, b), nn.ReLU()]
        self.decoder = nn.Sequential(*layers)
        self.to_rgb = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(c[0], 3, 7))

    def forward(self, line, hint_rgb, mask, return_attention: bool = False, flat: bool = False):
        h_, w_ = line.shape[-2:]
        if h_ % self.multiple or w_ % self.multiple:
            raise ValueError(f"input size {h_}x{w_} is not a multiple of {self.multiple}; pad it first")
        x = self.encoder(torch.cat([line, hint_rgb * mask, mask], 1))
        x = self.decoder(self.blocks(x))
        out = apply_output(self.to_rgb(x), line, self.output, self.training, flat)
        return (out, []) if return_attention else out
