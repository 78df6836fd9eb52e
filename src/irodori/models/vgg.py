"""VGG19 features with torchvision's parameter names, loaded from torchvision's published ImageNet file."""

from __future__ import annotations

import os

import torch
import torch.nn as nn

from irodori.weights import VGG19_IMAGENET, PublishedWeights, load_state_checked, read_torch_state, resolve

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

    def load_pretrained(self, path: str | os.PathLike | None = None, record: PublishedWeights = VGG19_IMAGENET) -> None:
        """Load ImageNet weights (resolved as described in :mod:`irodori.weights`) and freeze."""
        file = resolve(record, path)
        # torchvision's file also holds the classifier, and a truncated copy uses only the first layers.
        load_state_checked(self, read_torch_state(file, "VGG19 weights"), file, ignore_unexpected=True)
        self.requires_grad_(False)
        self.eval()

