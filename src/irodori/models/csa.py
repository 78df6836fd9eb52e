"""Mid-level blocks: the paper's Concatenation and Spatial Attention block and its ablations.

Each block maps ``(x, h) -> (x', attention)`` where ``h`` are the hint features
(shared by all blocks) and ``attention`` is the map it applied (None if none).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from irodori.models.layers import norm_layer


class ResBody(nn.Module):
    """The ResNet block's residual branch: conv3x3 -> act -> conv3x3."""

    def __init__(self, channels: int, norm: str = "none"):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1), norm_layer(norm, channels), nn.LeakyReLU(0.2),
            nn.Conv2d(channels, channels, 3, padding=1), norm_layer(norm, channels),
        )

    def forward(self, x):
        return self.net(x)


class HintHead(nn.Module):
    """Three convolutions on the hint features; the first downsamples by ``stride`` (H/8 -> H/16).

    A stride over 2 (a mid-level at H/32) widens the first kernel to ``stride + 1`` so that it still
    covers every input position.
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int = 2):
        super().__init__()
        k = 3 if stride <= 2 else stride + 1
        self.net = nn.Sequential(
            nn.Conv2d(in_ch, out_ch, k, stride, k // 2), nn.LeakyReLU(0.2),
            nn.Conv2d(out_ch, out_ch, 3, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(out_ch, out_ch, 3, padding=1),
        )

    def forward(self, h, size):
        g = self.net(h)
        if g.shape[-2:] != size:
            g = F.interpolate(g, size=size, mode="bilinear", align_corners=False)
        return g


class PlainBlock(nn.Module):
    """``x + F(x)``: the paper's "w/o proposed module" ablation."""

    def __init__(self, channels: int, norm: str = "none"):
        super().__init__()
        self.body = ResBody(channels, norm)

    def forward(self, x, h=None):
        return x + self.body(x), None


class CSABlock(nn.Module):
    """Concatenation and Spatial Attention (paper §3.1, Fig. 1).

    ``F = body(x)``; ``g = head(h)``; ``a = sigmoid(conv(relu(conv(cat(F, g)))))``;
    returns ``x + F * a``. ``attention="spatial"`` gives one map shared by all
    channels (CBAM-like); ``"channel"`` gives a per-channel spatial map.
    """

    def __init__(self, channels: int, hint_in: int, hint_channels: int = 256, attention_channels: int = 128,
                 attention: str = "spatial", hint_stride: int = 2, norm: str = "none"):
        super().__init__()
        self.attention = attention
        self.body = ResBody(channels, norm)
        self.head = HintHead(hint_in, hint_channels, hint_stride)
        out = 1 if attention == "spatial" else channels
        self.attend = nn.Sequential(
            nn.Conv2d(channels + hint_channels, attention_channels, 3, padding=1), nn.ReLU(),
            nn.Conv2d(attention_channels, out, 3, padding=1),
        )

    def extra_repr(self) -> str:
        return f"attention={self.attention}"

    def forward(self, x, h):
        f = self.body(x)
        g = self.head(h, f.shape[-2:])
        a = torch.sigmoid(self.attend(torch.cat([f, g], 1)))
        return x + f * a, a


class SECatBlock(nn.Module):
    """Tag2Pix-style SECat: a per-channel gate from pooled block and hint features (no spatial map)."""

    def __init__(self, channels: int, hint_in: int, hint_channels: int = 256, attention_channels: int = 128,
                 hint_stride: int = 2, norm: str = "none"):
        super().__init__()
        self.body = ResBody(channels, norm)
        self.head = HintHead(hint_in, hint_channels, hint_stride)
        self.gate = nn.Sequential(
            nn.Linear(channels + hint_channels, attention_channels), nn.ReLU(),
            nn.Linear(attention_channels, channels),
        )

    def forward(self, x, h):
        f = self.body(x)
        g = self.head(h, f.shape[-2:])
        pooled = torch.cat([f.mean((2, 3)), g.mean((2, 3))], 1)
        a = torch.sigmoid(self.gate(pooled))[:, :, None, None]
        return x + f * a, a
