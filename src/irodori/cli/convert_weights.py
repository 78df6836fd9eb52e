"""``irodori convert-weights``: turn third-party weight files into the safetensors this package loads."""

from __future__ import annotations

import argparse

from irodori.errors import IrodoriError, WeightsError

#: The converters' names (``irodori.weights.CONVERTED``; the converters are in irodori.convert).
#: Written out so that building the parser imports nothing heavy.
SOURCES = ("nsfwjs", "sketchkeras", "simplification")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "convert-weights", help="convert third-party weights (nsfwjs InceptionV3, sketchKeras, "
                                "Sketch Simplification) to safetensors",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="nsfwjs: read the TF.js layers model in nsfwjs@4.3.0's dist/models/inception_v3 (8-bit "
                    "quantized), dequantize it, map the Keras InceptionV3 onto irodori's InceptionV3 and write "
                    "safetensors into the cache dir, where `irodori evaluate --metrics fid` finds it. Without "
                    "a source it runs `npm pack nsfwjs@4.3.0` in a temporary directory. "
                    "sketchkeras: read the Keras HDF5 mod.h5 of github.com/lllyasviel/sketchKeras (release 0.1) "
                    "and check its graph. simplification: read model_gan.pth, the PyTorch state dict of "
                    "github.com/bobbens/sketch_simplification's model_gan. Both write into the cache dir, where "
                    "line extraction (data.line_methods, `irodori prepare lineart`) finds them; the converted "
                    "file carries a SHA-256 of its tensors, checked on load.")
    p.add_argument("source_name", choices=sorted(SOURCES), metavar="NAME", help=f"one of: {', '.join(SOURCES)}")
    p.add_argument("src", nargs="?", default=None, metavar="SRC",
                   help="the published file (mod.h5, model_gan.pth; for nsfwjs the package .tgz or directory)")
    p.add_argument("--source", help="same as SRC (nsfwjs: the package .tgz, an unpacked package, or its model dir)")
    p.add_argument("--out", help="output .safetensors (default: the cache dir)")


# The commands import the networks and converters when they run: building the parser must not import torch.


def _run_nsfwjs(source, out) -> int:
    from irodori.eval.nsfwjs import NSFWJS_CLASSES, load_nsfwjs_inception
    from irodori.convert.nsfwjs import convert_nsfwjs

    path = convert_nsfwjs(source, out)
    model = load_nsfwjs_inception(path)
    n = sum(p.numel() for p in model.parameters())
    print(f"wrote {path}: InceptionV3 ({model.net.num_features}-d pool features, last pool "
          f"{model.net.Mixed_7c.pool}) + head over {', '.join(NSFWJS_CLASSES)}; {n:,} parameters")
    print(f"path={path}")
    return 0


def _run_extractor(name: str, source, out) -> int:
    from irodori.extractors import LEARNED
    from irodori.weights import read_metadata
    from irodori.convert.simplification import convert_simplification
    from irodori.convert.sketchkeras import convert_sketchkeras

    record, _, load = LEARNED[name]
    if source is None:
        raise WeightsError(f"give the published {record.source_filename}: `{record.convert_command}` "
                           f"(download it from {record.source_url})")
    convert = {"sketchkeras": convert_sketchkeras, "simplification": convert_simplification}[name]
    path = convert(source, out)
    net = load(path)
    meta = read_metadata(path)
    n = sum(p.numel() for p in net.parameters())
    print(f"wrote {path}: {type(net).__name__} (width_div {meta['width_div']}), {n:,} parameters")
    print(f"source {meta['source']} sha256={meta['source_sha256']}")
    print(f"content sha256={meta['content_sha256']}")
    print(f"path={path}")
    return 0


def run(args) -> int:
    if args.src and args.source and args.src != args.source:
        raise IrodoriError(f"give the source once: SRC {args.src} and --source {args.source} differ")
    source = args.src or args.source
    if args.source_name == "nsfwjs":
        return _run_nsfwjs(source, args.out)
    return _run_extractor(args.source_name, source, args.out)
