"""Build networks from config: the one place that turns a Config into modules.

Colorizing builds a CSA U-Net and nothing else, so the baselines (pix2pixHD, AlacGAN) and the discriminator,
which training and the Table 1 comparison need, are imported by the function that builds them.
"""

from __future__ import annotations

import torch.nn as nn

from irodori.config import DiscriminatorConfig, GeneratorConfig
from irodori.models.csa_unet import CSAUNet


def build_generator(cfg: GeneratorConfig) -> nn.Module:
    if cfg.arch == "pix2pixhd":
        # optional for colorizing (a Table 1 baseline): loaded only when a config names it
        from irodori.models.pix2pixhd import Pix2PixHDGenerator

        norm = cfg.norm if cfg.norm != "none" else "instance"
        return Pix2PixHDGenerator(cfg.channels, cfg.num_blocks, norm, cfg.output)
    if cfg.arch == "alacgan":
        # optional for colorizing (a Table 1 baseline): loaded only when a config names it
        from irodori.models.alacgan import AlacGANGenerator

        return AlacGANGenerator(cfg.channels, cfg.num_blocks, cfg.learned_encoder_channels, norm=cfg.norm,
                                output=cfg.output)
    return CSAUNet(
        channels=cfg.channels, num_blocks=cfg.num_blocks, block=cfg.block, attention=cfg.attention,
        hint_encoder=cfg.hint_encoder, hint_channels=cfg.hint_channels, attention_channels=cfg.attention_channels,
        learned_encoder_channels=cfg.learned_encoder_channels, norm=cfg.norm, output=cfg.output,
        upsample=cfg.upsample, full_res=cfg.full_res,
    )


def build_discriminator(cfg: DiscriminatorConfig) -> nn.Module:
    # optional for colorizing (training only): not loaded by the pipeline
    from irodori.models.discriminator import MultiScaleDiscriminator

    return MultiScaleDiscriminator(cfg.num_d, 4, cfg.ndf, cfg.n_layers, cfg.norm)


def needs_vgg_weights(cfg: GeneratorConfig) -> bool:
    return cfg.arch == "unet" and cfg.block != "none" and cfg.hint_encoder == "vgg19"
