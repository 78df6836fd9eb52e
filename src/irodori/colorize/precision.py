"""The precision and memory layout a torch generator runs in at inference (and the folds that make it faster
without changing its numbers).

Measured on this project's 2-core Xeon (AMX, AVX-512 BF16), bundled model at 512x512, median of 10:
NCHW fp32 244 ms, channels-last fp32 177 ms, channels-last bf16 45 ms (max difference from fp32
0.014 in [-1, 1], under 2 of 255 levels). CPUs without native bf16 instructions would emulate it and
run slower, so ``auto`` picks bf16 only where the hardware has it.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from irodori.config import PRECISIONS as CONFIG_PRECISIONS
from irodori.errors import ConfigError

#: ``auto``: bf16 where the device computes it natively (CPU with AMX or AVX-512 BF16; CUDA with bf16
#: support), else fp32. ``fp32``: exact reference numerics (evaluation, export). ``bf16``: always.
PRECISIONS = CONFIG_PRECISIONS
#: Device types whose convolutions run fastest channels-last.
NHWC_DEVICES = ("cpu", "cuda")


def native_bf16(device: str | torch.device) -> bool:
    """Whether ``device`` runs bf16 convolutions in hardware rather than emulating them."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    try:  # private, but the only way torch reports these CPU features
        return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
    except AttributeError:
        return False


def resolve_precision(precision: str, device: str | torch.device) -> torch.dtype:
    """The dtype ``precision`` (one of :data:`PRECISIONS`) means on ``device``."""
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision == "bf16" or (precision == "auto" and native_bf16(device)):
        return torch.bfloat16
    return torch.float32


def prepare_generator(generator: nn.Module, device: str | torch.device = "cpu",
                      precision: str = "fp32") -> tuple[nn.Module, torch.dtype]:
    """Eval mode on ``device`` in the resolved dtype, channels-last on the CPU and CUDA (oneDNN's and
    cuDNN's fast layout).

    Converts ``generator`` in place and returns it with its dtype; feed it :func:`as_input` tensors.
    """
    device = torch.device(device)
    dtype = resolve_precision(precision, device)
    generator = generator.eval().to(device=device, dtype=dtype)
    if device.type in NHWC_DEVICES:
        generator = generator.to(memory_format=torch.channels_last)
    return fold_for_inference(generator), dtype


class UnshuffledConv2d(nn.Conv2d):
    """``conv(pixel_unshuffle(x, r))`` for a 3x3, stride-1, padding-1 ``conv``, computed as one
    ``3r x 3r``, stride-``r``, padding-``r`` convolution of ``x`` itself: the same products and sums, without
    the full-resolution unshuffle copy (measured at one thread: the bundled model's stem 1.5x faster in
    fp32 and bf16, at 512 and 1024 px). Holds the original ``weight`` and ``bias`` (same names and shapes:
    state dicts are unchanged) and rearranges the weight at each call, which costs microseconds."""

    def __init__(self, conv: nn.Conv2d, factor: int):
        super().__init__(conv.in_channels, conv.out_channels, 3, padding=1, bias=conv.bias is not None,
                         device="meta")
        self.weight, self.bias, self.factor = conv.weight, conv.bias, factor

    def extra_repr(self) -> str:
        return super().extra_repr() + f", pixel_unshuffle({self.factor}) folded in"

    def forward(self, x):
        r, (o, c) = self.factor, self.weight.shape[:2]
        w = self.weight.view(o, c // (r * r), r, r, 3, 3).permute(0, 1, 4, 2, 5, 3).reshape(o, c // (r * r), 3 * r,
                                                                                              3 * r)
        if self.weight.is_contiguous(memory_format=torch.channels_last):  # the layout prepare_generator chose
            w = w.contiguous(memory_format=torch.channels_last)
        return F.conv2d(x, w, self.bias, stride=r, padding=r)


def _foldable(stem) -> bool:
    return (isinstance(stem, nn.Sequential) and len(stem) >= 2 and isinstance(stem[0], nn.PixelUnshuffle)
            and type(stem[1]) is nn.Conv2d and stem[1].kernel_size == (3, 3) and stem[1].stride == (1, 1)
            and stem[1].padding == (1, 1) and stem[1].dilation == (1, 1) and stem[1].groups == 1)


def fold_for_inference(generator: nn.Module) -> nn.Module:
    """Numerically equivalent rewrites for inference, in place: a pixel-unshuffle stem folded into its conv
    (:class:`UnshuffledConv2d`) and the activations made in-place (each follows a conv whose output nothing
    else reads). Parameter names and shapes stay as they are."""
    stem = getattr(generator, "stem", None)
    if _foldable(stem):
        stem[1] = UnshuffledConv2d(stem[1], stem[0].downscale_factor)
        stem[0] = nn.Identity()
    for m in generator.modules():
        if isinstance(m, (nn.LeakyReLU, nn.ReLU)):
            m.inplace = True
    return generator


def as_input(t: torch.Tensor, dtype: torch.dtype, device: str | torch.device) -> torch.Tensor:
    """A 4-D input tensor in the dtype and layout :func:`prepare_generator` set up."""
    t = t.to(device=device, dtype=dtype)
    return t.contiguous(memory_format=torch.channels_last) if torch.device(device).type in NHWC_DEVICES else t
