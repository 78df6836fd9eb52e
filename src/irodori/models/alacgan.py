"""A Ci et al. 2018 (AlacGAN)-style generator, the paper's second Table 1 baseline, written from its description.

User-guided anime line art colorization (ACM MM 2018): a U-Net whose bottleneck at H/8 is a
"tunnel" of dilated ResNeXt bottleneck blocks; the color hints enter at 1/4 resolution, and
features of the line art from a pretrained Illustration2Vec network are concatenated at the
bottleneck; upsampling by sub-pixel convolution; trained with WGAN-GP.

Here the Illustration2Vec branch is a small learned encoder of the line art (its weights are
out of reach), and the hints are pooled from the full-resolution hint map (every hinted cell
keeps the mean color of its hinted pixels). ``forward`` has the same signature and output
modes as the other generators.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from irodori.models.csa_unet import apply_output
from irodori.models.layers import conv_block, norm_layer

#: Dilation pattern of the bottleneck tunnel, repeated: the receptive field grows, then narrows again.
TUNNEL_DILATIONS = (1, 1, 2, 2, 4, 4, 2, 1)


class ResNeXtBlock(nn.Module):
    """``x + expand(grouped dilated 3x3(reduce(x)))`` with LeakyReLU(0.2): a ResNeXt bottleneck at half width."""

    def __init__(self, channels: int, dilation: int = 1, cardinality: int = 32, norm: str = "none"):
        super().__init__()
        mid = max(1, channels // 2)
        self.groups = math.gcd(mid, cardinality)
        self.dilation = dilation
        self.body = nn.Sequential(
            nn.Conv2d(channels, mid, 1), norm_layer(norm, mid), nn.LeakyReLU(0.2),
            nn.Conv2d(mid, mid, 3, padding=dilation, dilation=dilation, groups=self.groups),
            norm_layer(norm, mid), nn.LeakyReLU(0.2),
            nn.Conv2d(mid, channels, 1),
        )

    def extra_repr(self) -> str:
        return f"dilation={self.dilation}, groups={self.groups}"

    def forward(self, x):
        return x + self.body(x)


class LineFeatureEncoder(nn.Module):
    """Learned stand-in for Illustration2Vec: line art -> features at H/8 (conv, then 3 stride-2 convs)."""

    def __init__(self, channels=(32, 64, 128, 256)):
        super().__init__()
        c0, c1, c2, c3 = channels
        self.out_channels = c3
        self.net = nn.Sequential(
            nn.Conv2d(1, c0, 3, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(c0, c1, 3, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(c1, c2, 3, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(c2, c3, 3, 2, 1), nn.LeakyReLU(0.2),
        )

    def forward(self, line):
        return self.net(line)


def pool_hints(hint_rgb: torch.Tensor, mask: torch.Tensor, factor: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Hints at 1/``factor`` resolution: a cell is hinted if any of its pixels is, with their mean color."""
    m = F.avg_pool2d(mask, factor)
    c = F.avg_pool2d(hint_rgb * mask, factor) / m.clamp_min(1e-6)
    hit = (m > 0).to(mask.dtype)
    return c * hit, hit


class _Up(nn.Module):
    """Sub-pixel x2 upsampling, skip concatenation, fuse conv, then ``num_blocks`` ResNeXt blocks."""

    def __init__(self, in_ch: int, out_ch: int, num_blocks: int, norm: str):
        super().__init__()
        self.up = nn.Sequential(nn.Conv2d(in_ch, out_ch * 4, 3, padding=1), nn.PixelShuffle(2), nn.LeakyReLU(0.2))
        self.fuse = conv_block(2 * out_ch, out_ch, norm=norm)
        self.blocks = nn.Sequential(*[ResNeXtBlock(out_ch, TUNNEL_DILATIONS[i % len(TUNNEL_DILATIONS)], norm=norm)
                                      for i in range(num_blocks)])

    def forward(self, x, skip):
        return self.blocks(self.fuse(torch.cat([self.up(x), skip], 1)))


class AlacGANGenerator(nn.Module):
    """``channels`` = (H, H/2, H/4, H/8 encoder widths, tunnel width); ``num_blocks`` tunnel blocks at H/8;
    ``decoder_blocks`` ResNeXt blocks after each upsampling (H/4, H/2, H); ``feature_channels`` the
    line-feature encoder's widths. Input sizes must be multiples of 8."""

    multiple = 8

    def __init__(self, channels=(64, 128, 256, 512, 512), num_blocks: int = 20,
                 feature_channels=(32, 64, 128, 256), decoder_blocks=(2, 2, 1), norm: str = "none",
                 output: str = "tanh"):
        super().__init__()
        c0, c1, c2, c3, c4 = tuple(channels)
        self.output = output
        self.enc0 = conv_block(1, c0, norm=norm)
        self.enc1 = conv_block(c0, c1, stride=2, norm=norm)
        self.enc2 = conv_block(c1, c2, stride=2, norm=norm)
        self.hint_fuse = conv_block(c2 + 4, c2, norm=norm)  # hints enter at H/4
        self.enc3 = conv_block(c2, c3, stride=2, norm=norm)
        self.line_features = LineFeatureEncoder(feature_channels)
        self.bottleneck = nn.Sequential(nn.Conv2d(c3 + self.line_features.out_channels, c4, 1), nn.LeakyReLU(0.2))
        self.tunnel = nn.Sequential(*[ResNeXtBlock(c4, TUNNEL_DILATIONS[i % len(TUNNEL_DILATIONS)], norm=norm)
                                      for i in range(num_blocks)])
        self.up = nn.ModuleList([_Up(c4, c2, decoder_blocks[0], norm), _Up(c2, c1, decoder_blocks[1], norm),
                                 _Up(c1, c0, decoder_blocks[2], norm)])
        self.to_rgb = nn.Conv2d(c0, 3, 3, padding=1)

    def extra_repr(self) -> str:
        return f"output={self.output}"

    def forward(self, line, hint_rgb, mask, return_attention: bool = False, flat: bool = False):
        h_, w_ = line.shape[-2:]
        if h_ % self.multiple or w_ % self.multiple:
            raise ValueError(f"input size {h_}x{w_} is not a multiple of {self.multiple}; pad it first")
        e0 = self.enc0(line)
        e1 = self.enc1(e0)
        hint_lr, mask_lr = pool_hints(hint_rgb, mask, 4)
        e2 = self.hint_fuse(torch.cat([self.enc2(e1), hint_lr, mask_lr], 1))
        x = self.bottleneck(torch.cat([self.enc3(e2), self.line_features(line)], 1))
        x = self.tunnel(x)
        for up, skip in zip(self.up, (e2, e1, e0)):
            x = up(x, skip)
        out = apply_output(self.to_rgb(x), line, self.output, self.training, flat)
        return (out, []) if return_attention else out
