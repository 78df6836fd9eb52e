"""The hint encoders: what the generator sees of the user's color hints, at 1/8 resolution."""

from __future__ import annotations

import torch
import torch.nn as nn

from irodori.models.vgg import VGG19Features

#: The state-dict keys of the frozen ImageNet VGG inside a generator: never saved in a release nor
#: warm-started (the weights are resolved on their own, :mod:`irodori.weights`).
FROZEN_VGG_PREFIX = "hint_encoder.vgg."


class HintEncoder(nn.Module):
    """The paper's hint encoder: frozen VGG19 up to conv4_4 (before ReLU), H/8, 512 channels.

    Input: hint RGB in [-1, 1] and its mask; the hint image is shown to VGG as
    hints on black (docs/DESIGN.md). Computed once per generator forward.
    """

    out_channels = 512
    stride = 8

    def __init__(self):
        super().__init__()
        self.vgg = VGG19Features(taps=("conv4_4",))
        self.vgg.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        self.vgg.eval()  # frozen: never in training mode
        return self

    def forward(self, hint_rgb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        on_black = hint_rgb * mask + (mask - 1)  # -1 (black) where no hint
        return self.vgg(on_black)["conv4_4"]


class LearnedHintEncoder(nn.Module):
    """A small trainable stand-in for the VGG19 hint encoder (the CPU ``demo`` preset).

    Takes ``cat(hint_rgb * mask, mask)`` and returns features at H/8, like conv4_4.
    """

    stride = 8

    def __init__(self, channels: tuple[int, ...] = (32, 64, 128, 256)):
        super().__init__()
        c0, c1, c2, c3 = channels
        self.out_channels = c3
        act = lambda: nn.LeakyReLU(0.2)  # noqa: E731
        self.net = nn.Sequential(
            nn.Conv2d(4, c0, 3, padding=1), act(),
            nn.Conv2d(c0, c1, 3, stride=2, padding=1), act(),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), act(),
            nn.Conv2d(c2, c3, 3, stride=2, padding=1), act(),
            nn.Conv2d(c3, c3, 3, padding=1),
        )

    def forward(self, hint_rgb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([hint_rgb * mask, mask], 1))
