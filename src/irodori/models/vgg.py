"""VGG19 feature extractor with torchvision-compatible parameter names, and the hint encoders."""

from __future__ import annotations

import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from irodori import weights as W
from irodori.errors import WeightsError

# torchvision's VGG19 "E" configuration; "M" is a 2x2 max-pool.
_VGG19_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")

#: Index in ``features`` of each named tap (output taken right after that layer).
VGG19_TAPS = {
    "relu1_1": 1,
    "relu2_1": 6,
    "relu3_1": 11,
    "relu4_1": 20,
    "conv4_4": 25,  # before its ReLU
    "relu5_1": 29,
}

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _make_features(last_index: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    in_ch = 3
    for v in _VGG19_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(in_ch, v, 3, padding=1), nn.ReLU(inplace=False)]
            in_ch = v
        if len(layers) > last_index:
            break
    return nn.Sequential(*layers[: last_index + 1])


class VGG19Features(nn.Module):
    """VGG19 ``features`` truncated after the deepest requested tap.

    ``forward`` takes RGB in [-1, 1], applies ImageNet normalisation, and returns
    a dict tap name -> feature map. Parameters are named ``features.N.weight``
    exactly as in torchvision, so its published file loads as it is.
    """

    def __init__(self, taps: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")):
        super().__init__()
        unknown = set(taps) - set(VGG19_TAPS)
        if unknown:
            raise ValueError(f"unknown VGG19 taps {sorted(unknown)}; known: {sorted(VGG19_TAPS)}")
        self.taps = tuple(sorted(taps, key=VGG19_TAPS.__getitem__))
        self.features = _make_features(max(VGG19_TAPS[t] for t in taps))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self._index_to_tap = {VGG19_TAPS[t]: t for t in self.taps}

    def extra_repr(self) -> str:
        return f"taps={self.taps}"

    def forward(self, rgb: torch.Tensor) -> dict[str, torch.Tensor]:
        x = ((rgb + 1) * 0.5 - self.mean) / self.std
        out = {}
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self._index_to_tap:
                out[self._index_to_tap[i]] = x
        return out

    def load_pretrained(self, path: str | os.PathLike | None = None, spec: W.WeightSpec = W.VGG19_IMAGENET) -> None:
        """Load ImageNet weights (resolved as described in :mod:`irodori.weights`) and freeze."""
        file = W.resolve(spec, path)
        try:
            state = torch.load(file, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
            raise WeightsError(f"cannot read VGG19 weights from {file}: {exc}") from exc
        load_vgg_state(self, state, str(file))
        self.requires_grad_(False)
        self.eval()


def load_vgg_state(model: VGG19Features, state: dict, source: str = "state dict") -> None:
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    if missing:
        raise WeightsError(f"{source} lacks VGG19 keys {missing[:4]}{'...' if len(missing) > 4 else ''}")
    for k, v in own.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise WeightsError(f"{source}: {k} has shape {tuple(state[k].shape)}, expected {tuple(v.shape)}")
    model.load_state_dict({k: state[k] for k in own})


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


def resize_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if x.shape[-2:] == torch.Size(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
