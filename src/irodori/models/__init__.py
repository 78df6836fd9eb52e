"""The paper's networks."""

from irodori.models.csa import CSABlock, PlainBlock, SECatBlock
from irodori.models.discriminator import MultiScaleDiscriminator, PatchDiscriminator
from irodori.models.factory import build_discriminator, build_generator, needs_vgg_weights
from irodori.models.generator import Generator
from irodori.models.pix2pixhd import Pix2PixHDGenerator
from irodori.models.vgg import HintEncoder, LearnedHintEncoder, VGG19Features

__all__ = [
    "CSABlock", "PlainBlock", "SECatBlock", "MultiScaleDiscriminator", "PatchDiscriminator", "Generator",
    "Pix2PixHDGenerator", "HintEncoder", "LearnedHintEncoder", "VGG19Features", "build_generator",
    "build_discriminator", "needs_vgg_weights",
]
