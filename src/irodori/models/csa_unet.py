"""The paper's U-Net generator with a mid-level of CSA blocks (§3.2, docs/DESIGN.md)."""

from __future__ import annotations

import torch
import torch.nn as nn

from irodori.models.csa import CSABlock, PlainBlock, SECatBlock
from irodori.models.layers import conv_block
from irodori.models.hint_encoder import HintEncoder, LearnedHintEncoder


def apply_output(raw: torch.Tensor, line: torch.Tensor, mode: str, training: bool, flat: bool = False) -> torch.Tensor:
    """Map the last conv's output to RGB in [-1, 1].

    ``tanh``: the paper's output. ``residual``: color = white + unbounded residual,
    multiplied by the line art (in [0, 1] space); clamped only outside training,
    which avoids the all-white collapse measured in docs/DESIGN.md. ``flat=True`` returns
    the colors before the line art is multiplied in (residual mode; tanh has no such layer).
    """
    if mode == "tanh":
        return torch.tanh(raw)
    color01 = 1.0 + 0.5 * raw
    out = (color01 if flat else color01 * (line + 1) * 0.5) * 2 - 1
    return out if training else out.clamp(-1, 1)


def upsample_block(in_ch: int, out_ch: int, mode: str) -> nn.Sequential:
    """×2 upsampling: ``transposed`` (the paper's 4×4 stride-2 transposed conv) or ``resize`` (nearest ×2,
    then a 3×3 conv: no uneven kernel overlap, so no checkerboard in flat fills)."""
    if mode == "transposed":
        return nn.Sequential(nn.ConvTranspose2d(in_ch, out_ch, 4, 2, 1), nn.LeakyReLU(0.2))
    if mode == "resize":
        return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(in_ch, out_ch, 3, padding=1),
                             nn.LeakyReLU(0.2))
    raise ValueError(f"unknown upsample mode {mode!r}")


class ShuffleHead(nn.Module):
    """Output head at H/2: a 3×3 conv to ``4 * out_ch`` channels, pixel-shuffled to ``out_ch`` at H.

    Initialised so that the four sub-pixels of each output 2×2 block start equal (ICNR), which avoids
    a checkerboard at initialisation.
    """

    def __init__(self, in_ch: int, out_ch: int = 3):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, 4 * out_ch, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        with torch.no_grad():
            base = torch.empty(out_ch, in_ch, 3, 3)
            nn.init.kaiming_uniform_(base, a=5 ** 0.5)  # nn.Conv2d's own default init, at out_ch outputs
            self.conv.weight.copy_(base.repeat_interleave(4, dim=0))
            self.conv.bias.copy_(self.conv.bias[::4].repeat_interleave(4))

    def forward(self, x):
        return self.shuffle(self.conv(x))


class CSAUNet(nn.Module):
    """U-Net: stem, 4 downsamplings, ``num_blocks`` mid-level blocks, 4 upsamplings with skips.

    ``forward(line, hint_rgb, mask)`` with line (N,1,H,W) and hint_rgb (N,3,H,W)
    in [-1, 1], mask (N,1,H,W) in {0,1}; H and W must be multiples of :attr:`multiple`.

    ``full_res="conv"`` (the paper): the stem is a 3×3 conv at full resolution, the mid-level runs at
    H/16. ``"unshuffle"``: the 5-channel input is pixel-unshuffled ×2 (20 channels at H/2), so every
    U-Net stage runs at half the resolution (mid-level at H/32, inputs a multiple of 32), and the
    output is pixel-shuffled back from H/2 (:class:`ShuffleHead`); the line art is still multiplied
    in at full resolution (residual output). ``upsample``: see :func:`upsample_block`.
    """

    def __init__(self, channels=(64, 128, 256, 512, 512), num_blocks: int = 8, block: str = "csa",
                 attention: str = "spatial", hint_encoder: str = "vgg19", hint_channels: int = 256,
                 attention_channels: int = 128, learned_encoder_channels=(32, 64, 128, 256),
                 norm: str = "none", output: str = "tanh", upsample: str = "transposed", full_res: str = "conv"):
        super().__init__()
        c = tuple(channels)
        if full_res not in ("conv", "unshuffle"):
            raise ValueError(f"unknown full_res {full_res!r}")
        self.block_type, self.output, self.upsample, self.full_res = block, output, upsample, full_res
        self.multiple = 16 if full_res == "conv" else 32
        if full_res == "conv":
            self.stem = nn.Sequential(nn.Conv2d(5, c[0], 3, padding=1), nn.LeakyReLU(0.2))
        else:
            self.stem = nn.Sequential(nn.PixelUnshuffle(2), nn.Conv2d(20, c[0], 3, padding=1), nn.LeakyReLU(0.2))
        self.down = nn.ModuleList(
            nn.Sequential(conv_block(c[i], c[i + 1], stride=2, norm=norm), conv_block(c[i + 1], c[i + 1], norm=norm))
            for i in range(4)
        )
        if block == "none":
            self.hint_encoder = None
            blocks = [PlainBlock(c[4], norm) for _ in range(num_blocks)]
        else:
            self.hint_encoder = HintEncoder() if hint_encoder == "vgg19" else LearnedHintEncoder(learned_encoder_channels)
            h_in = self.hint_encoder.out_channels
            stride = self.multiple // self.hint_encoder.stride
            if block == "csa":
                blocks = [CSABlock(c[4], h_in, hint_channels, attention_channels, attention, stride, norm)
                          for _ in range(num_blocks)]
            else:
                blocks = [SECatBlock(c[4], h_in, hint_channels, attention_channels, stride, norm)
                          for _ in range(num_blocks)]
        self.mid = nn.ModuleList(blocks)
        self.up = nn.ModuleList()
        self.fuse = nn.ModuleList()
        prev = c[4]
        for i in (3, 2, 1, 0):
            self.up.append(upsample_block(prev, c[i], upsample))
            self.fuse.append(conv_block(2 * c[i], c[i], norm=norm))
            prev = c[i]
        self.to_rgb = nn.Conv2d(c[0], 3, 3, padding=1) if full_res == "conv" else ShuffleHead(c[0], 3)

    def extra_repr(self) -> str:
        return (f"block={self.block_type}, output={self.output}, upsample={self.upsample}, "
                f"full_res={self.full_res}, multiple={self.multiple}")

    def forward(self, line, hint_rgb, mask, return_attention: bool = False, flat: bool = False):
        h_, w_ = line.shape[-2:]
        if h_ % self.multiple or w_ % self.multiple:
            raise ValueError(f"input size {h_}x{w_} is not a multiple of {self.multiple}; pad it first")
        x = self.stem(torch.cat([line, hint_rgb * mask, mask], 1))
        skips = [x]
        for d in self.down:
            x = d(x)
            skips.append(x)
        hint = self.hint_encoder(hint_rgb, mask) if self.hint_encoder is not None else None
        maps = []
        for blk in self.mid:
            x, a = blk(x, hint)
            maps.append(a)
        for up, fuse, skip in zip(self.up, self.fuse, reversed(skips[:-1])):
            x = fuse(torch.cat([up(x), skip], 1))
        out = apply_output(self.to_rgb(x), line, self.output, self.training, flat)
        return (out, maps) if return_attention else out
