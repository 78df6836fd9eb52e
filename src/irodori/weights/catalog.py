"""Every weight file irodori uses, in one place.

Published (used as they are, SHA-256 checked, downloaded when allowed): :data:`VGG19_IMAGENET`,
:data:`FID_INCEPTION`. Converted once with ``irodori convert-weights NAME`` (never downloaded):
:data:`SKETCHKERAS`, :data:`SIMPLIFICATION`, :data:`NSFWJS_INCEPTION`. The networks that load them
stay where they are used (:mod:`irodori.models.vgg`, :mod:`irodori.eval`, :mod:`irodori.extractors`);
the converters are in :mod:`irodori.convert`.
"""

from __future__ import annotations

from irodori.weights.records import ConvertedWeights, PublishedWeights

VGG19_IMAGENET = PublishedWeights(
    name="vgg19",
    filename="vgg19-dcbb9e9d.pth",
    url="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
    sha256="dcbb9e9d",
    env_var="IRODORI_VGG19",
    description="ImageNet VGG19 (torchvision release), used by the hint encoder and the perceptual loss",
)

FID_INCEPTION = PublishedWeights(
    name="fid-inception",
    filename="pt_inception-2015-12-05-6726825d.pth",
    url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
    sha256="6726825d",
    env_var="IRODORI_FID_INCEPTION",
    description="the standard FID InceptionV3 (TF 2015-12-05 graph, pytorch-fid's port)",
)

SKETCHKERAS = ConvertedWeights(
    name="sketchkeras",
    filename="sketchkeras-mod.safetensors",
    env_var="IRODORI_SKETCHKERAS",
    format="irodori-sketchkeras",
    source_filename="mod.h5",
    source_url="https://github.com/lllyasviel/sketchKeras/releases/download/0.1/mod.h5",
    description="the sketchKeras line extractor (lllyasviel, 2017)",
    license="no license stated by the upstream repository",
)

SIMPLIFICATION = ConvertedWeights(
    name="simplification",
    filename="sketch-simplification-gan.safetensors",
    env_var="IRODORI_SIMPLIFICATION",
    format="irodori-sketch-simplification",
    source_filename="model_gan.pth",
    # The authors' own download is the Torch7 file https://esslab.jp/~ess/data/sketch_gan.t7 (not read
    # here); model_gan.pth is its PyTorch state dict, distributed alongside the repository's model_gan.py.
    source_url="https://github.com/bobbens/sketch_simplification",
    description="the Sketch Simplification network (Simo-Serra et al. 2018, model_gan)",
    license="CC BY-NC-SA 4.0 (non-commercial), Edgar Simo-Serra and Satoshi Iizuka",
)

#: The nsfwjs release whose InceptionV3 is converted.
NSFWJS_VERSION = "4.3.0"

NSFWJS_INCEPTION = ConvertedWeights(
    name="nsfwjs",
    filename=f"nsfwjs-{NSFWJS_VERSION}-inception_v3.safetensors",
    env_var="IRODORI_NSFWJS_INCEPTION",
    format="irodori-inception-v3",
    source_filename=f"nsfwjs-{NSFWJS_VERSION}.tgz",
    source_url=f"https://registry.npmjs.org/nsfwjs/-/nsfwjs-{NSFWJS_VERSION}.tgz",
    description="InceptionV3 of the nsfwjs npm package, for FID features (inception-nsfwjs)",
    license="MIT (nsfwjs, Infinite Red)",
    how_to_convert=("Convert them once with `irodori convert-weights nsfwjs` "
                    f"(runs `npm pack nsfwjs@{NSFWJS_VERSION}`; or give the package .tgz as SRC)"),
    # Files converted before irodori recorded a content hash have none.
    content_hash_optional=True,
)

#: The converted files, by ``irodori convert-weights`` name.
CONVERTED: dict[str, ConvertedWeights] = {r.name: r for r in (NSFWJS_INCEPTION, SKETCHKERAS, SIMPLIFICATION)}
