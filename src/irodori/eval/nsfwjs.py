"""The nsfwjs InceptionV3 (npm package nsfwjs, MIT) as a FID feature network: ``inception-nsfwjs``.

nsfwjs 4.3.0 ships a Keras InceptionV3 (ImageNet-initialized, fine-tuned on 5 classes: Drawing,
Hentai, Neutral, Porn, Sexy); ``irodori convert-weights nsfwjs`` converts it once
(:mod:`irodori.convert.nsfwjs`) into :data:`irodori.weights.NSFWJS_INCEPTION`, which
:func:`load_nsfwjs_inception` loads into :class:`NSFWJSInception`: the
:class:`~irodori.eval.inception.InceptionV3` trunk and the package's classifier head.

Preprocessing is what the package does before ``model.predict``: RGB / 255 (inputs in [0, 1], not
Keras' usual [-1, 1]) and a bilinear resize to 299x299 with ``alignCorners = true``.

FID computed with these features is *not* comparable with published FID values (different
weights, trained on a different task); it only ranks models evaluated the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from irodori.errors import WeightsError
from irodori.eval.inception import InceptionV3
from irodori.weights import NSFWJS_INCEPTION, load_converted, load_state_checked, resolve, save_converted

NSFWJS_CLASSES = ("Drawing", "Hentai", "Neutral", "Porn", "Sexy")
#: What the package does to an image before its network (recorded in the converted file).
PREPROCESSING = "RGB in [0, 1] (x / 255), bilinear resize to 299 with align_corners"


class DenseHead(nn.Module):
    """The package's classifier on the pooled features (Keras Dense layers; dropout is off at inference)."""

    def __init__(self, sizes, activations):
        super().__init__()
        if len(sizes) != len(activations) + 1 or any(a not in ("relu", "softmax", "linear") for a in activations):
            raise ValueError(f"bad head {sizes} / {activations}")
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.activations = tuple(activations)

    def forward(self, x):
        for layer, act in zip(self.layers, self.activations):
            x = layer(x)
            x = F.relu(x) if act == "relu" else x.softmax(-1) if act == "softmax" else x
        return x


class NSFWJSInception(nn.Module):
    """Images (N, 3, H, W) in [0, 1] -> bilinear 299x299 (align_corners, as nsfwjs does) -> pooled features.

    :meth:`classify` adds the package's head: class probabilities in :data:`NSFWJS_CLASSES` order.
    """

    size = 299

    def __init__(self, width_div: int = 1, last_pool: str = "avg", head_sizes=(2048, 256, 128, 5),
                 head_activations=("relu", "relu", "softmax")):
        super().__init__()
        self.net = InceptionV3(num_classes=0, last_pool=last_pool, width_div=width_div)
        self.head = DenseHead(head_sizes, head_activations) if len(head_sizes) > 1 else None

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[-2:] != (self.size, self.size):
            images = F.interpolate(images, size=(self.size, self.size), mode="bilinear", align_corners=True)
        return images

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net.features(self.preprocess(images))

    def classify(self, images: torch.Tensor) -> torch.Tensor:
        if self.head is None:
            raise WeightsError("these converted weights carry no classifier head")
        return self.head(self(images))


def load_nsfwjs_inception(path: str | os.PathLike | None = None) -> NSFWJSInception:
    """The converted network in eval mode (explicit path -> $IRODORI_NSFWJS_INCEPTION -> cache dir);
    a clear WeightsError when it has not been converted yet."""
    file = resolve(NSFWJS_INCEPTION, path)
    tensors, meta = load_converted(NSFWJS_INCEPTION, file)
    model = NSFWJSInception(meta["width_div"], meta["last_pool"], meta["head_sizes"], meta["head_activations"])
    # The file keeps InceptionV3's own names (as in pytorch-fid's state dict) and the head under ``head.``.
    load_state_checked(model.net, {k: v for k, v in tensors.items() if not k.startswith("head.")}, file)
    if model.head is not None:
        load_state_checked(model.head, {k[5:]: v for k, v in tensors.items() if k.startswith("head.")}, file)
    return model.eval().requires_grad_(False)


def save_nsfwjs_inception(model: NSFWJSInception, path: str | os.PathLike | None = None, **meta) -> Path:
    """Write a network in the converted-file layout :func:`load_nsfwjs_inception` reads (InceptionV3 names,
    the head under ``head.``) to ``path`` (default: the cache dir)."""
    state = {k: v for k, v in model.net.state_dict().items() if not k.endswith("num_batches_tracked")}
    if model.head is not None:
        state.update({f"head.{k}": v for k, v in model.head.state_dict().items()})
    sizes = [model.net.num_features] + [layer.out_features for layer in (model.head.layers if model.head else [])]
    meta = {"width_div": model.net.width_div, "last_pool": model.net.Mixed_7c.pool, "head_sizes": sizes,
            "head_activations": list(model.head.activations) if model.head else [], **meta}
    return save_converted(NSFWJS_INCEPTION, state, path, meta)
