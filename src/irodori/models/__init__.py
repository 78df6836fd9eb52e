"""The paper's networks."""

from irodori.models.csa import CSABlock, PlainBlock, SECatBlock
from irodori.models.discriminator import MultiScaleDiscriminator, PatchDiscriminator
from irodori.models.factory import build_discriminator, build_generator, needs_vgg_weights
from irodori.models.csa_unet import CSAUNet
from irodori.models.hint_encoder import HintEncoder, LearnedHintEncoder
from irodori.models.pix2pixhd import Pix2PixHDGenerator
from irodori.models.vgg import VGG19Features

__all__ = [
    "CSABlock", "PlainBlock", "SECatBlock", "MultiScaleDiscriminator", "PatchDiscriminator", "CSAUNet",
    "Pix2PixHDGenerator", "HintEncoder", "LearnedHintEncoder", "VGG19Features", "build_generator",
    "build_discriminator", "needs_vgg_weights",
]
