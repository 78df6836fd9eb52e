"""InceptionV3 for FID, written here in torchvision's module layout (Szegedy et al. 2016).

One network serves both FID feature networks (:data:`irodori.eval.fid.FEATURE_NETS`):

* ``inception-pytorch-fid``: the standard FID network (TF's 2015-12-05 graph as ported by
  pytorch-fid): average pools that ignore padding, max pool in the last block's pool branch,
  a 1008-way ``fc``. Parameter names are those of pytorch-fid's state dict
  (``Conv2d_1a_3x3.conv.weight``, ``Mixed_5b.branch5x5_1.bn.running_mean``, ...), so the
  published ``pt_inception-2015-12-05-6726825d.pth`` loads as is.
* ``inception-nsfwjs``: Keras' InceptionV3 (same layout; average pools in both last blocks) with
  the weights converted from the nsfwjs package (:mod:`irodori.eval.nsfwjs`).

The weight files are described in :mod:`irodori.weights.catalog`.

Every conv is bias-free and followed by BatchNorm (eps 0.001) and ReLU. ``width_div`` divides
every width (tests build tiny copies); 2048 / width_div features come out of the global pool.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from irodori.weights import FID_INCEPTION, load_state_checked, read_torch_state, resolve


class BasicConv2d(nn.Module):
    """conv (no bias) -> BatchNorm(eps=0.001) -> ReLU."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel_size, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(out_ch, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def _avg3(x):
    # TF's SAME average pool divides by the number of real pixels, not 9.
    return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)


class InceptionA(nn.Module):
    def __init__(self, in_ch: int, pool_features: int, d: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(in_ch, 64 // d, 1)
        self.branch5x5_1 = BasicConv2d(in_ch, 48 // d, 1)
        self.branch5x5_2 = BasicConv2d(48 // d, 64 // d, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_ch, 64 // d, 1)
        self.branch3x3dbl_2 = BasicConv2d(64 // d, 96 // d, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96 // d, 96 // d, 3, padding=1)
        self.branch_pool = BasicConv2d(in_ch, pool_features, 1)

    def forward(self, x):
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), b5, b3, self.branch_pool(_avg3(x))], 1)


class InceptionB(nn.Module):
    def __init__(self, in_ch: int, d: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(in_ch, 384 // d, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_ch, 64 // d, 1)
        self.branch3x3dbl_2 = BasicConv2d(64 // d, 96 // d, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96 // d, 96 // d, 3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), b3, F.max_pool2d(x, 3, 2)], 1)


class InceptionC(nn.Module):
    def __init__(self, in_ch: int, c7: int, d: int):
        super().__init__()
        c192 = 192 // d
        self.branch1x1 = BasicConv2d(in_ch, c192, 1)
        self.branch7x7_1 = BasicConv2d(in_ch, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, c192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_ch, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, c192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_ch, c192, 1)

    def forward(self, x):
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        for conv in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            bd = conv(bd)
        return torch.cat([self.branch1x1(x), b7, bd, self.branch_pool(_avg3(x))], 1)


class InceptionD(nn.Module):
    def __init__(self, in_ch: int, d: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_ch, 192 // d, 1)
        self.branch3x3_2 = BasicConv2d(192 // d, 320 // d, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_ch, 192 // d, 1)
        self.branch7x7x3_2 = BasicConv2d(192 // d, 192 // d, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192 // d, 192 // d, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192 // d, 192 // d, 3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([b3, b7, F.max_pool2d(x, 3, 2)], 1)


class InceptionE(nn.Module):
    """``pool="max"`` is the FID network's last block (a quirk of TF's 2015 graph); Keras uses ``avg``."""

    def __init__(self, in_ch: int, d: int, pool: str = "avg"):
        super().__init__()
        if pool not in ("avg", "max"):
            raise ValueError(f"pool must be avg or max, got {pool!r}")
        self.pool = pool
        self.branch1x1 = BasicConv2d(in_ch, 320 // d, 1)
        self.branch3x3_1 = BasicConv2d(in_ch, 384 // d, 1)
        self.branch3x3_2a = BasicConv2d(384 // d, 384 // d, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384 // d, 384 // d, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_ch, 448 // d, 1)
        self.branch3x3dbl_2 = BasicConv2d(448 // d, 384 // d, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384 // d, 384 // d, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384 // d, 384 // d, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_ch, 192 // d, 1)

    def extra_repr(self) -> str:
        return f"pool={self.pool}"

    def forward(self, x):
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        pooled = _avg3(x) if self.pool == "avg" else F.max_pool2d(x, 3, 1, 1)
        return torch.cat([self.branch1x1(x), b3, bd, self.branch_pool(pooled)], 1)


class InceptionV3(nn.Module):
    """The InceptionV3 trunk; :meth:`features` gives the global-average-pooled (N, 2048 / width_div) features.

    ``num_classes``: width of the optional ``fc`` layer (1008 in the FID network, 0 for none).
    ``last_pool``: the pool branch of ``Mixed_7c`` (``max`` in the FID network, ``avg`` in Keras).
    Input: (N, 3, H, W), H and W >= 75, already normalized the way the weights expect.
    """

    def __init__(self, num_classes: int = 0, last_pool: str = "max", width_div: int = 1):
        super().__init__()
        if width_div not in (1, 2, 4, 8, 16):
            raise ValueError(f"width_div must be one of 1, 2, 4, 8, 16, got {width_div}")
        d = width_div
        self.width_div = d
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32 // d, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32 // d, 32 // d, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32 // d, 64 // d, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64 // d, 80 // d, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80 // d, 192 // d, 3)
        self.Mixed_5b = InceptionA(192 // d, 32 // d, d)
        self.Mixed_5c = InceptionA(256 // d, 64 // d, d)
        self.Mixed_5d = InceptionA(288 // d, 64 // d, d)
        self.Mixed_6a = InceptionB(288 // d, d)
        self.Mixed_6b = InceptionC(768 // d, 128 // d, d)
        self.Mixed_6c = InceptionC(768 // d, 160 // d, d)
        self.Mixed_6d = InceptionC(768 // d, 160 // d, d)
        self.Mixed_6e = InceptionC(768 // d, 192 // d, d)
        self.Mixed_7a = InceptionD(768 // d, d)
        self.Mixed_7b = InceptionE(1280 // d, d, "avg")
        self.Mixed_7c = InceptionE(2048 // d, d, last_pool)
        self.num_features = 2048 // d
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes else None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, 2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, 2)
        for name in ("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
                     "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"):
            x = getattr(self, name)(x)
        return x.mean((2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x)
        return self.fc(f) if self.fc is not None else f


class PytorchFIDInception(nn.Module):
    """The standard FID feature network: images in [0, 1] -> bilinear 299x299 -> [-1, 1] -> 2048 pool features."""

    size = 299

    def __init__(self, net: InceptionV3 | None = None):
        super().__init__()
        self.net = net if net is not None else InceptionV3(num_classes=1008, last_pool="max")

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(images, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return self.net.features(2 * x - 1)


def load_pytorch_fid_inception(path=None) -> PytorchFIDInception:
    """The FID network with the published weights (explicit path -> $IRODORI_FID_INCEPTION -> cache -> download)."""
    file = resolve(FID_INCEPTION, path)
    model = PytorchFIDInception()
    load_state_checked(model.net, read_torch_state(file, "FID InceptionV3 weights"), file)
    return model.eval().requires_grad_(False)
