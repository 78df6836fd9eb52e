"""``irodori colorize``: line art in, colored illustrations out."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from irodori.errors import InputError, IrodoriError

from irodori.flats import DEFAULT_SHADING, FLATS_MODES

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")
SIDECARS = (".hints.json", ".hints.png")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "colorize", help="colorize line art (files or folders) with optional color hints",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Colorize line art with a trained model (default: the bundled `demo` model).\n\n"
                    "Hints, in the line art's pixel coordinates:\n"
                    "  --hints FILE   a JSON list [{\"x\": 10, \"y\": 20, \"color\": \"#ff0000\", \"size\": 6}, ...]\n"
                    "                 or an RGBA PNG whose alpha > 0 pixels are hints\n"
                    "  --hint X,Y,#RRGGBB[,SIZE]   repeatable\n"
                    "Without --hints/--hint, an image's sidecar NAME.hints.json or NAME.hints.png is used if present.\n\n"
                    "Regions: a hint that lies well inside a region of the line art (gaps up to --max-gap px\n"
                    "closed) colors that whole region and nothing past its lines; the model colors the rest\n"
                    "and adds shading (--flats regions, the default). --flats hints-only leaves unhinted regions\n"
                    "white; --flats model gives the model's own output.\n\n"
                    "Output: with one input and -o ending in .png/.jpg, that file; otherwise -o is a folder\n"
                    "receiving NAME.png. --layers adds NAME.ora and NAME.psd (layers: hints (hidden), lines\n"
                    "(multiply), shading (multiply), flats) and NAME.line.png, NAME.flats.png, NAME.shading.png.\n"
                    "Outputs are written atomically and all together: a failed image leaves no file. Exit 0 if\n"
                    "all succeeded, 1 if any image failed, 2 for invalid arguments or hints.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="line art image files or folders")
    p.add_argument("-o", "--out", required=True, help="output file (single input) or folder")
    p.add_argument("--hints", metavar="FILE", help="hint file (JSON list or RGBA PNG) applied to every input")
    p.add_argument("--hint", action="append", default=[], metavar="X,Y,#RRGGBB[,SIZE]", help="one hint; repeatable")
    p.add_argument("--model", default="demo", help="bundled model name, .safetensors file or run directory")
    p.add_argument("--resolution", type=int, help="working long side in pixels (default: the model's own scale)")
    p.add_argument("--layers", action="store_true",
                   help="also write NAME.ora, NAME.psd and the line, flats and shading layers as PNGs")
    p.add_argument("--flats", choices=FLATS_MODES, default="regions",
                   help="regions: hinted regions take their hint's color, the model colors the rest; "
                        "hints-only: only hinted regions get color; model: the model's raw output")
    p.add_argument("--shading", type=_unit_float, default=DEFAULT_SHADING,
                   help="0..1: how much of the model's light and shadow shows over a hint's flat color")
    p.add_argument("--max-gap", type=int, metavar="PX",
                   help="widest gap in a line (px) that still closes a region (default: scaled with the image)")
    p.add_argument("--threads", type=int, help="CPU threads for inference (default: all cores)")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                   help="torch backend: auto = bf16 where the CPU computes it natively (AMX / AVX-512 BF16; "
                        "about 4x faster, within 2/255 of fp32), else fp32")
    p.add_argument("--backend", choices=("torch", "onnx"), default="torch",
                   help="run the generator in torch or in ONNX Runtime (exported once and cached; "
                        "needs `pip install 'irodori[onnx]'`); a --model ending in .onnx needs onnx")


def _unit_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return value


def _collect(inputs: list[str]) -> list[Path]:
    files = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(f for f in path.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES
                           and not any(f.name.endswith(s) for s in SIDECARS) and f.is_file())
            if not found:
                raise InputError(f"{path}: no images found in this folder")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(f"{path}: no such file or folder")
    return files


def _outputs(result, target: Path, layers: bool) -> list[tuple[Path, bytes]]:
    """Every file one image produces, encoded in memory first so that a failure writes nothing."""
    from irodori.data.imageio import image_bytes
    from irodori.layerfile import LAYER_FORMATS, layer_file_bytes, result_layers

    files = [(target, image_bytes(result.image, target.suffix))]
    if layers:
        stem = target.with_suffix("")
        stack = result_layers(result)
        files += [(stem.with_name(stem.name + suffix), layer_file_bytes(suffix, stack, result.image))
                  for suffix in LAYER_FORMATS]
        files += [(stem.with_name(f"{stem.name}.{name}.png"), image_bytes(image))
                  for name, image in (("line", result.line), ("flats", result.flats), ("shading", result.shading))]
    return files


def _write_all(files: list[tuple[Path, bytes]]) -> None:
    """All of one image's outputs or none (:func:`irodori.atomic.atomic_write_files`), errors as one line."""
    from irodori.atomic import atomic_write_files

    try:
        atomic_write_files(files)
    except OSError as exc:
        raise InputError(f"cannot write {exc.filename}: {exc.strerror or exc}") from None


def _hints_for(args, file: Path, height: int, width: int):
    from irodori.hint_input import draw_hints, load_hints, parse_hint_flag

    if args.hints or args.hint:
        layer = load_hints(args.hints, height, width) if args.hints else None
        flags = [parse_hint_flag(h, height, width) for h in args.hint]
        if layer is None:
            return draw_hints(flags, height, width)
        extra = draw_hints(flags, height, width)
        layer.rgb[extra.mask] = extra.rgb[extra.mask]
        layer.mask |= extra.mask
        return layer
    for suffix in SIDECARS:
        side = file.with_name(file.stem + suffix)
        if side.is_file():
            return load_hints(side, height, width)
    return None


def run(args) -> int:
    import torch

    from irodori.hint_input import HintError
    from irodori.pipeline import Colorizer, lineart_to_unit

    if args.threads:
        torch.set_num_threads(args.threads)
    files = _collect(args.inputs)
    out = Path(args.out)
    single_file = len(files) == 1 and out.suffix.lower() in (".png", ".jpg", ".jpeg")
    if len(files) > 1 and out.suffix.lower() in (".png", ".jpg", ".jpeg"):
        raise InputError(f"-o {out} names a file but there are {len(files)} inputs; give a folder")
    if args.hints and not Path(args.hints).is_file():
        raise InputError(f"hint file {args.hints} does not exist")
    colorizer = Colorizer.from_pretrained(args.model, backend=args.backend,
                                          precision=args.precision if args.backend == "torch" else "fp32")

    failures = 0
    bar = None
    if len(files) > 1:
        from tqdm import tqdm
        bar = tqdm(total=len(files), unit="img", file=sys.stderr, disable=None)
    for file in files:
        try:
            line = lineart_to_unit(file, colorizer.max_pixels)
            hints = _hints_for(args, file, *line.shape)
            result = colorizer(line, hints, resolution=args.resolution, flats=args.flats, shading=args.shading,
                               max_gap=args.max_gap)
            target = out if single_file else out / f"{file.stem}.png"
            _write_all(_outputs(result, target, args.layers))
            if bar is None:
                print(target)
        except HintError:
            if len(files) == 1 or args.hints or args.hint:
                raise  # the same hints would fail for every file: stop with exit code 2
            failures += 1
            print(f"irodori colorize: {file}: error: {sys.exc_info()[1]}", file=sys.stderr)
        except IrodoriError as exc:
            if len(files) == 1:
                raise
            failures += 1
            print(f"irodori colorize: {file}: error: {exc}", file=sys.stderr)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
        print(f"colorized {len(files) - failures} of {len(files)} images into {out}")
    return 1 if failures else 0
