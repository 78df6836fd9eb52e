"""Is an int8 generator good enough to offer? Quantize the bundled model's ONNX export with ONNX Runtime, then
score it against fp32 in the same Hint-AUC run, and time both.

    .venv/bin/python benchmarks/int8.py quantize --out /tmp/int8 --calib data/corpus/openclipart
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/int8.py evaluate --dir /tmp/int8 \
        --data data/corpus/openclipart --split val --limit 40
    .venv/bin/python benchmarks/int8.py speed --dir /tmp/int8 --size 512

``quantize`` writes ``fp32.onnx`` (irodori's export), ``dynamic.onnx`` (weights int8, activations quantized
per call: ConvInteger) and ``static.onnx`` (QDQ, weights int8 per channel, activations uint8 with ranges
calibrated on ``--calib-n`` drawings of the *train* split with Hint-AUC scribble hints at several ratios).
``evaluate`` runs the torch fp32 model and each int8 file through the same pipeline as users (regions and
flats, the default shading; and ``model``: the generator's own colors) on the same inputs, and prints the
Hint-AUC PSNR of each and its difference from fp32. The bar for offering int8: a loss of at most 0.2 dB.
``speed`` times one forward of each file at one thread in the calling thread's CPU time (robust on a shared
machine), with torch fp32 and bf16 beside them.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from irodori.eval.adapter import colorizer_methods
from irodori.eval.protocol import ALPHAS, evaluate_protocol, load_drawings, require_hintauc
from irodori.colorize.onnx_backend import OnnxGenerator, export_onnx
from irodori.perf import time_calls
from irodori.colorize.pipeline import Colorizer

VARIANTS = ("dynamic", "static")


def _model_inputs(line, hint, mask):
    """The generator's inputs for one protocol sample, as the pipeline builds them (float32 NCHW)."""
    m = mask[None, None].astype(np.float32)
    return {"line": (line * 2 - 1)[None, None].astype(np.float32),
            "hint": ((hint.transpose(2, 0, 1) * 2 - 1)[None] * m).astype(np.float32), "mask": m}


def calibration_feeds(root: str, n: int, size: int) -> list[dict]:
    hintauc = require_hintauc()
    feeds = []
    for d in load_drawings(root, "train", size, n):
        truth8 = (np.clip(d.truth, 0, 1) * 255 + 0.5).astype(np.uint8)
        hints = hintauc.generate_hints(truth8[..., ::-1], size=64, path_method="geodesic")
        for a in (0.0, 0.1, 0.5, 1.0):
            color_bgr, mask8 = hintauc.hint_inputs(hints, a, "scribble", size, size, tie_break="stable")
            feeds.append(_model_inputs(d.line, color_bgr[..., ::-1].astype(np.float32) / 255,
                                       (mask8 > 0).astype(np.float32)))
    return feeds


def quantize(args) -> None:
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    col = Colorizer.from_pretrained(args.model)
    fp32 = export_onnx(col.generator, col.config, out / "fp32.onnx")
    pre = out / "pre.onnx"
    quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
    quantize_dynamic(str(pre), str(out / "dynamic.onnx"), weight_type=QuantType.QInt8, per_channel=True)

    class Reader(CalibrationDataReader):
        def __init__(self, feeds):
            self.it = iter(feeds)

        def get_next(self):
            return next(self.it, None)

    feeds = calibration_feeds(args.calib, args.calib_n, args.size)
    quantize_static(str(pre), str(out / "static.onnx"), Reader(feeds), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                    reduce_range=args.reduce_range)
    print(f"wrote {out}/fp32.onnx, dynamic.onnx, static.onnx (calibrated on {len(feeds)} inputs)")


def _methods(cols: dict[str, Colorizer]) -> dict:
    """name -> protocol method, for regions (the default pipeline) and the model's own colors."""
    return {k: v for name, col in cols.items()
            for k, v in colorizer_methods(col, ("regions", "model"), prefix=name).items()}


def evaluate(args) -> None:
    base = Colorizer.from_pretrained(args.model)  # torch, fp32
    cols = {"fp32": base}
    for v in args.variants.split(","):
        g = OnnxGenerator(Path(args.dir) / f"{v}.onnx", threads=1)
        cols[f"int8-{v}"] = Colorizer(g, g.config, {}, "cpu")
    drawings = load_drawings(args.data, args.split, args.size, args.limit)
    t0 = time.perf_counter()
    res = evaluate_protocol(drawings, _methods(cols), "scribble", ALPHAS, oracle=False, region_metrics=False)
    print(f"{len(drawings)} drawings of {args.data} ({args.split}) at {args.size} px, scribble hints, "
          f"{time.perf_counter() - t0:.0f} s")
    print(f"| {'method':<22} | {'Hint-AUC PSNR':>13} | {'vs fp32':>8} | {'Hint-AUC SSIM':>13} |")
    for name, e in res["methods"].items():
        ref = res["methods"][f"fp32/{name.split('/')[1]}"]["hint_auc"]
        print(f"| {name:<22} | {e['hint_auc']['psnr']:>13.3f} | {e['hint_auc']['psnr'] - ref['psnr']:>+8.3f} | "
              f"{e['hint_auc']['ssim']:>13.4f} |")


def _median_ms(fn, n: int) -> float:
    """One thread's CPU time per call, median (irodori.perf.time_calls with the thread clock)."""
    return statistics.median(time_calls(fn, n, warmup=1, clock=time.thread_time)) * 1000


def speed(args) -> None:
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    s = args.size
    x = {"line": torch.rand(1, 1, s, s, generator=g) * 2 - 1, "hint": torch.rand(1, 3, s, s, generator=g) * 2 - 1,
         "mask": (torch.rand(1, 1, s, s, generator=g) > 0.9).float()}
    feeds = [t.numpy() for t in x.values()]
    rows = {}
    for precision in ("fp32", "bf16"):
        col = Colorizer.from_pretrained(args.model, precision=precision)
        from irodori.colorize.precision import as_input
        xs = [as_input(t, col.dtype, "cpu") for t in x.values()]
        with torch.inference_mode():
            rows[f"torch {precision}"] = _median_ms(lambda: col.generator(*xs, flat=True), args.n)
    for v in ("fp32", *args.variants.split(",")):
        sess = OnnxGenerator(Path(args.dir) / f"{v}.onnx", threads=1)
        rows[f"onnx {v}"] = _median_ms(lambda: sess.run(*feeds), args.n)
    print(f"{s}x{s}, 1 thread, thread CPU ms, median of {args.n}")
    for k, v in rows.items():
        print(f"{k:<16} {v:8.1f} ms  ({v / rows['torch fp32']:.2f}x torch fp32)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("quantize")
    q.add_argument("--model", default="demo")
    q.add_argument("--out", required=True)
    q.add_argument("--calib", required=True, help="a prepared source; its train split calibrates")
    q.add_argument("--calib-n", type=int, default=16)
    q.add_argument("--size", type=int, default=256)
    q.add_argument("--reduce-range", action="store_true", help="7-bit weights (AVX2 without VNNI saturates 8)")
    e = sub.add_parser("evaluate")
    e.add_argument("--model", default="demo")
    e.add_argument("--dir", required=True)
    e.add_argument("--data", required=True)
    e.add_argument("--split", default="val")
    e.add_argument("--limit", type=int, default=40)
    e.add_argument("--size", type=int, default=256)
    e.add_argument("--variants", default=",".join(VARIANTS))
    t = sub.add_parser("speed")
    t.add_argument("--model", default="demo")
    t.add_argument("--dir", required=True)
    t.add_argument("--size", type=int, default=512)
    t.add_argument("--n", type=int, default=5)
    t.add_argument("--variants", default=",".join(VARIANTS))
    args = p.parse_args()
    {"quantize": quantize, "evaluate": evaluate, "speed": speed}[args.cmd](args)


if __name__ == "__main__":
    main()
