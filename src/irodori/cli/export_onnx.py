"""``irodori export-onnx``: a trained generator as an ONNX model for ONNX Runtime and other runtimes."""

from __future__ import annotations

from irodori.config import whole_number


def add_parser(sub) -> None:
    p = sub.add_parser("export-onnx", help="export a trained generator to ONNX (dynamic batch and size)",
                       description="Write the generator's flat-color output (what the pipeline runs) as ONNX: "
                                   "inputs line (N,1,H,W), hint (N,3,H,W) in [-1,1] and mask (N,1,H,W) in {0,1}, "
                                   "output flat (N,3,H,W) in [-1,1]; N, H and W dynamic, H and W multiples of 16. "
                                   "The model config travels in the file's metadata, so `irodori colorize "
                                   "--backend onnx --model FILE.onnx` can use it. Needs `pip install 'irodori[onnx]'`.")
    p.add_argument("--model", default="demo", help="bundled model name, .safetensors file or run directory")
    p.add_argument("--out", required=True, metavar="FILE.onnx", help="output file (written atomically)")
    p.add_argument("--opset", type=whole_number, help="ONNX opset version (default: irodori.colorize.onnx_backend.DEFAULT_OPSET)")
    p.add_argument("--int8", action="store_true",
                   help="write an int8 model (ONNX Runtime static quantization, calibrated on synthetic "
                        "drawings): for CPUs without native bf16; within 0.2 dB Hint-AUC PSNR of fp32 on the "
                        "bundled model (README, Performance). Run it with --backend onnx --model FILE.onnx")


def run(args) -> int:
    from irodori.errors import ConfigError
    from irodori.colorize.onnx_backend import DEFAULT_OPSET, export_onnx
    from irodori.colorize.pipeline import Colorizer

    args.opset = args.opset or DEFAULT_OPSET
    if args.model.lower().endswith(".onnx"):
        raise ConfigError(f"--model {args.model} is already an ONNX model")
    col = Colorizer.from_pretrained(args.model)
    metadata = {"source": args.model, "native_size": str(col.native_size),
                **{k: str(col.meta[k]) for k in ("step",) if k in col.meta}}
    if args.int8:
        import tempfile
        from pathlib import Path

        from irodori.onnx_int8 import quantize_onnx

        with tempfile.TemporaryDirectory() as tmp:
            fp32 = export_onnx(col.generator, col.config, Path(tmp) / "fp32.onnx", opset=args.opset,
                               metadata=metadata)
            path = quantize_onnx(fp32, args.out)
    else:
        path = export_onnx(col.generator, col.config, args.out, opset=args.opset, metadata=metadata)
    print(f"wrote {path} (model {args.model}, opset {args.opset}{', int8' if args.int8 else ''}, "
          f"{path.stat().st_size / 1e6:.1f} MB)")
    return 0
