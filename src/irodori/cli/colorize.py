"""``irodori colorize``: line art in, colored illustrations out."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from irodori.colorize.options import (BACKENDS, DEFAULT_SHADING, FLATS_MODES, MAX_GAP_RANGE, PRECISIONS,
                                      RESOLUTION_RANGE, SHADING_RANGE, WORKING_SIZE, ColorizeOptions)
from irodori.config import decimal_number, whole_number
from irodori.errors import InputError, IrodoriError
from irodori.userfiles import regular_file

if TYPE_CHECKING:
    from irodori.cli.colorize_outputs import Job


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
                    "Output: with one input and -o ending in .png, .jpg/.jpeg, .webp (lossless), .tif/.tiff or\n"
                    ".bmp, that file in that format (.gif is refused: its palette would lose colors); otherwise -o\n"
                    "is a folder receiving NAME.png, under the same sub-folder as the image has in its input\n"
                    "folder (in/sub/x.png -> OUT/sub/x.png). Inputs whose outputs would share a name keep their\n"
                    "extension: in/x.png and in/x.jpg -> OUT/x.png.png and OUT/x.jpg.png. No output may replace\n"
                    "an input, a hint sidecar or the --hints file, and -o may not be an input folder.\n"
                    "--layers adds NAME.ora and NAME.psd (layers: hints (hidden), lines (multiply), shading\n"
                    "(multiply), flats) and NAME.line.png, NAME.flats.png, NAME.shading.png.\n"
                    "Outputs are written atomically and all together: a failed image leaves no file. A bad image\n"
                    "in a batch is reported and skipped. Exit 0 if all succeeded, 1 if any image failed, 2 for\n"
                    "invalid arguments or hints, or an output that cannot be written.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="line art image files or folders")
    p.add_argument("-o", "--out", required=True, help="output file (single input) or folder")
    p.add_argument("--hints", metavar="FILE", help="hint file (JSON list or RGBA PNG) applied to every input")
    p.add_argument("--hint", action="append", default=[], metavar="X,Y,#RRGGBB[,SIZE]", help="one hint; repeatable")
    p.add_argument("--model", default="demo", help="bundled model name, .safetensors file or run directory")
    p.add_argument("--resolution", type=_int_in(*RESOLUTION_RANGE), metavar="PX",
                   help="working long side in pixels, %d..%d (default: %d, as the web app)" % (*RESOLUTION_RANGE, WORKING_SIZE))
    p.add_argument("--layers", action="store_true",
                   help="also write NAME.ora, NAME.psd and the line, flats and shading layers as PNGs")
    p.add_argument("--flats", choices=FLATS_MODES, default="regions",
                   help="regions: hinted regions take their hint's color, the model colors the rest; "
                        "hints-only: only hinted regions get color; model: the model's raw output")
    p.add_argument("--shading", type=_shading, default=DEFAULT_SHADING,
                   help="%g..%g: how much of the model's light and shadow shows over a hint's flat color"
                        % SHADING_RANGE)
    p.add_argument("--max-gap", type=_int_in(*MAX_GAP_RANGE), metavar="PX",
                   help="widest gap in a line (px, %d..%d) that still closes a region (default: scaled with the image)"
                        % MAX_GAP_RANGE)
    p.add_argument("--threads", help="CPU threads for inference: a positive whole number, or auto (default: "
                                     "$IRODORI_THREADS, else the cores free now)")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="torch backend: auto = bf16 where the CPU computes it natively (AMX / AVX-512 BF16; "
                        "about 4x faster, within 2/255 of fp32), else fp32")
    p.add_argument("--backend", choices=BACKENDS, default="torch",
                   help="run the generator in torch or in ONNX Runtime (exported once and cached; "
                        "needs `pip install 'irodori[onnx]'`); a --model ending in .onnx needs onnx")


def _shading(text: str) -> float:
    low, high = SHADING_RANGE
    try:
        value = decimal_number(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [{low:g}, {high:g}], got {text!r}") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"expected a number in [{low:g}, {high:g}], got {text!r}")
    return value


def _int_in(low: int, high: int):
    """An argparse type: a whole number in ``low..high``."""
    def parse(text: str) -> int:
        try:
            value = whole_number(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number in {low}..{high}, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected a whole number in {low}..{high}, got {text!r}")
        return value
    return parse


def _shown(path) -> str:
    """``path`` printable on any stdout (a file name that is not valid UTF-8 shows its bytes escaped)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _report(job: Job, message: str) -> None:
    """One image's failure as one line on stderr, named once."""
    name = str(job.source.path)
    message = " ".join(message.split())
    message = message[len(name) + 2:] if message.startswith(name + ": ") else message
    print(f"irodori colorize: {name}: error: {message}", file=sys.stderr)


def _outputs(result, job: Job) -> list[tuple[Path, bytes]]:
    """Every file of one job (:data:`~irodori.cli.colorize_outputs.LAYER_SUFFIXES` order), encoded in memory
    first so that a failure writes nothing."""
    from irodori.colorize.imageio import image_bytes
    from irodori.colorize.layerfile import LAYER_FORMATS, LAYER_PNGS, layer_outputs

    target, *layer_paths = job.files
    files = [(target, image_bytes(result.image, target.suffix))]
    if layer_paths:
        encoded = layer_outputs(result)
        files += list(zip(layer_paths, [encoded[key] for key in (*LAYER_FORMATS, *LAYER_PNGS)]))
    return files


class WriteError(InputError):
    """An output could not be written: the destination's problem, the same for every image (the batch stops)."""


def _write_all(files: list[tuple[Path, bytes]]) -> None:
    """All of one image's outputs or none (:func:`irodori.atomic.atomic_write_files`), errors as one line."""
    from irodori.atomic import atomic_write_files

    try:
        atomic_write_files(files)
    except OSError as exc:
        raise WriteError(f"cannot write {exc.filename}: {exc.strerror or exc}") from None
    except ValueError as exc:  # e.g. a NUL in a path
        raise WriteError(f"cannot write {files[0][0]}: {exc}") from None


def _hints_for(args, file: Path, height: int, width: int):
    """The hints for one line art: --hints and --hint merged (flags win), else the file's sidecar, else none."""
    from irodori.cli.colorize_outputs import SIDECARS
    from irodori.colorize.hint_input import hint_layer, merge_hints

    if args.hints or args.hint:
        layers = [hint_layer(Path(args.hints), height, width)] if args.hints else []
        if args.hint:
            layers.append(hint_layer(args.hint, height, width, name="--hint"))
        return merge_hints(*layers)
    for suffix in SIDECARS:
        side = file.with_name(file.stem + suffix)
        if _is_regular(side):
            return hint_layer(side, height, width)
    return None


def _is_regular(path: Path) -> bool:
    """Whether ``path`` is a regular file; False for a name too long to exist, a FIFO, a device."""
    try:
        return path.is_file()
    except OSError:  # ENAMETOOLONG: a sidecar name of a legal 255-byte image name cannot exist
        return False


def _options(args) -> ColorizeOptions:
    """What the command line chose, checked once."""
    return ColorizeOptions(args.flats, args.shading, args.max_gap, args.resolution, args.backend, args.precision)


def _colorize_one(args, colorizer, job: Job, options: ColorizeOptions) -> int:
    """Colorize one job and write its files; returns the working size it ran at."""
    from irodori.colorize.hint_input import hint_layer
    from irodori.colorize.pipeline import lineart_to_unit

    file = job.source.path
    line = lineart_to_unit(file, colorizer.max_pixels)
    layer = hint_layer(_hints_for(args, file, *line.shape), *line.shape)
    result = colorizer.colorize(line, layer, options)
    _write_all(_outputs(result, job))
    return result.resolution


def run(args) -> int:
    from irodori import threads as thread_policy
    from irodori.cli.colorize_outputs import collect, plan

    thread_policy.parse_threads(args.threads)  # a bad value fails before any work
    options = _options(args)
    if args.hints is not None:
        regular_file(args.hints, "hint file")
    hint_files = (Path(args.hints),) if args.hints else ()
    jobs = plan(collect(args.inputs, hint_files, args.out), args.out, args.layers, protected=list(hint_files))

    from irodori.colorize.pipeline import Colorizer
    from irodori.threads import keep_freed_memory

    thread_policy.apply(args.threads)
    keep_freed_memory()
    return _colorize_all(args, Colorizer.load(args.model, options), jobs, options)


def _colorize_all(args, colorizer, jobs: list[Job], options: ColorizeOptions) -> int:
    """Each job in turn. A bad image is reported in one line and counted, and the rest go on; bad --hints or
    --hint (the same for every image) and an unwritable output stop the batch. Exit 1 if any image failed."""
    from irodori.colorize.hint_input import HintError

    failures = 0
    sizes = set()
    bar = None
    if len(jobs) > 1:
        from tqdm import tqdm
        bar = tqdm(total=len(jobs), unit="img", file=sys.stderr, disable=None)
    try:
        for job in jobs:
            try:
                sizes.add(_colorize_one(args, colorizer, job, options))
            except IrodoriError as exc:
                stops = isinstance(exc, WriteError) or (isinstance(exc, HintError) and bool(args.hints or args.hint))
                if len(jobs) == 1 or stops:
                    raise
                failures += 1
                _report(job, str(exc))
            except Exception as exc:  # noqa: BLE001 - one image's unexpected failure must not stop the batch
                failures += 1
                _report(job, f"unexpected {type(exc).__name__}: {exc}")
            else:
                if bar is None:  # every file written: the image, and with --layers the layer files
                    for path in job.files:
                        print(_shown(path))
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    if bar is not None:
        failed = f" ({failures} failed)" if failures else ""
        size = f" at working size {', '.join(map(str, sorted(sizes)))} px" if sizes else ""
        print(f"colorized {len(jobs) - failures} of {len(jobs)} images into {_shown(args.out)}{size}{failed}")
    elif sizes:  # one image: stdout lists the files, so the working size goes to stderr
        print(f"irodori colorize: working size {sizes.pop()} px (--resolution to change)", file=sys.stderr)
    return 1 if failures else 0
