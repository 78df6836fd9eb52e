"""``irodori convert-weights``: turn third-party weight files into the safetensors this package loads."""

from __future__ import annotations

import argparse

#: Source name -> one-line description (the converters live in irodori.eval).
SOURCES = {"nsfwjs": "InceptionV3 of the nsfwjs npm package (MIT), for FID features (inception-nsfwjs)"}


def add_parser(sub) -> None:
    p = sub.add_parser(
        "convert-weights", help="convert third-party weights (nsfwjs InceptionV3 for FID) to safetensors",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="nsfwjs: read the TF.js layers model in nsfwjs@4.3.0's dist/models/inception_v3 (8-bit "
                    "quantized), dequantize it, map the Keras InceptionV3 onto irodori's InceptionV3 and write "
                    "safetensors into the cache dir, where `irodori evaluate --metrics fid` finds it. Without "
                    "--source it runs `npm pack nsfwjs@4.3.0` in a temporary directory.")
    p.add_argument("source_name", choices=sorted(SOURCES), metavar="NAME", help=f"one of: {', '.join(SOURCES)}")
    p.add_argument("--source", help="the package .tgz, an unpacked package, or its model directory")
    p.add_argument("--out", help="output .safetensors (default: the cache dir)")


def run(args) -> int:
    from irodori.eval.nsfwjs import NSFWJS_CLASSES, convert_nsfwjs, load_nsfwjs_inception

    path = convert_nsfwjs(args.source, args.out)
    model = load_nsfwjs_inception(path)
    n = sum(p.numel() for p in model.parameters())
    print(f"wrote {path}: InceptionV3 ({model.net.num_features}-d pool features, last pool "
          f"{model.net.Mixed_7c.pool}) + head over {', '.join(NSFWJS_CLASSES)}; {n:,} parameters")
    print(f"path={path}")
    return 0
