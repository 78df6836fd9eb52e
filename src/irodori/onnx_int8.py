"""An int8 generator for CPUs without native bf16: ONNX Runtime static quantization of the ONNX export.

:func:`quantize_onnx` turns a file written by :func:`irodori.colorize.onnx_backend.export_onnx` into a QDQ model:
weights int8 per output channel, activations uint8 with ranges calibrated on :func:`calibration_inputs`
(training-style samples of synthetic drawings: XDoG line art, region scribbles or patch hints; seeded, so
the same model always quantizes to the same file). The metadata (config, native size, multiple) is kept
and ``irodori.colorize.precision=int8`` added, so :class:`irodori.colorize.onnx_backend.OnnxGenerator` loads it like any export.

Measured (benchmarks/int8.py, README "Performance"): Hint-AUC PSNR within 0.2 dB of fp32 on the validation
splits, about 3x faster than torch fp32 on one AVX-512 VNNI core. Dynamic quantization (ConvInteger) was
4.6x *slower* than fp32 and is not offered.

Needs ``onnx`` and ``onnxruntime`` (``pip install 'irodori[onnx]'``), imported only here.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from irodori.atomic import atomic_write_bytes
from irodori.data.sample import SampleSpec, make_sample
from irodori.data.synthetic import draw_shapes
from irodori.colorize.onnx_backend import _META, INPUT_NAMES, _require

#: Calibration: this many synthetic samples at this size (the bundled model's own scale).
CALIBRATION_SAMPLES = 32
CALIBRATION_SIZE = 256


def calibration_inputs(n: int = CALIBRATION_SAMPLES, size: int = CALIBRATION_SIZE, seed: int = 0) -> list[dict]:
    """``n`` generator inputs (``line``, ``hint`` already multiplied by ``mask``, ``mask``; float32 NCHW) made
    the way training samples are, from synthetic drawings: half with region scribbles or dots, half with
    the paper's patches, so every hint ratio from none to dense is represented."""
    spec = SampleSpec(size=size, line_methods={"xdog": 1.0}, scribble_prob=0.5)
    feeds = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        s = make_sample(draw_shapes(size, rng), rng, spec)
        mask = s["mask"][None].numpy().astype(np.float32)
        feeds.append({"line": s["line"][None].numpy().astype(np.float32),
                      "hint": (s["hint"][None].numpy() * mask).astype(np.float32), "mask": mask})
    return feeds


def quantize_onnx(fp32_path: str | os.PathLike, out: str | os.PathLike, feeds: list[dict] | None = None) -> Path:
    """Write the int8 (QDQ) version of the fp32 export ``fp32_path`` to ``out``, calibrated on ``feeds``
    (default :func:`calibration_inputs`); temp file + rename, nothing left on failure."""
    onnx = _require("onnx")
    _require("onnxruntime")
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self, items):
            self.items = iter(items)

        def get_next(self):
            item = next(self.items, None)
            return None if item is None else {k: item[k] for k in INPUT_NAMES}

    out = Path(out)
    with tempfile.TemporaryDirectory() as tmp:
        pre, q = Path(tmp) / "pre.onnx", Path(tmp) / "int8.onnx"
        quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=True)
        quantize_static(str(pre), str(q), Reader(feeds if feeds is not None else calibration_inputs()),
                        quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, per_channel=True)
        model = onnx.load(str(q))
    source = {p.key: p.value for p in onnx.load(str(fp32_path), load_external_data=False).metadata_props}
    del model.metadata_props[:]
    for key, value in {**source, _META + "precision": "int8"}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    atomic_write_bytes(out, lambda f: f.write(model.SerializeToString()))
    return out
