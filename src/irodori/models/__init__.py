"""The paper's networks.

The generator's modules load with the package; the discriminator and the baselines (pix2pixHD), which only
training and the Table 1 comparison use, load on first use of their names here (PEP 562), so that colorizing
imports none of them.
"""

from irodori.lazy import lazy_names
from irodori.models.csa import CSABlock, PlainBlock, SECatBlock
from irodori.models.factory import build_discriminator, build_generator, needs_vgg_weights
from irodori.models.csa_unet import CSAUNet
from irodori.models.hint_encoder import FROZEN_VGG_PREFIX, HintEncoder, LearnedHintEncoder
from irodori.models.vgg import VGG19Features

#: Training-only names -> the module that defines them, imported when first asked for.
_LAZY = {"MultiScaleDiscriminator": "discriminator", "PatchDiscriminator": "discriminator",
         "Pix2PixHDGenerator": "pix2pixhd"}

__all__ = [
    "CSABlock", "PlainBlock", "SECatBlock", "MultiScaleDiscriminator", "PatchDiscriminator", "CSAUNet",
    "Pix2PixHDGenerator", "HintEncoder", "LearnedHintEncoder", "VGG19Features", "build_generator",
    "build_discriminator", "needs_vgg_weights", "FROZEN_VGG_PREFIX",
]

__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())
