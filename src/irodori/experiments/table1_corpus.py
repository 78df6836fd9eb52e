"""Table 1 on the illustration corpus: the compared models, trained elsewhere (``irodori train-group``, e.g. on a
GPU machine: ``benchmarks/gpu_plan.py``), evaluated here with the Hint-AUC protocol and FID.

Rows (:data:`ROWS_256`, plus :data:`OPTIONAL_256` when its model is there): each found in the models folder
as ``PRESET.safetensors`` (``irodori export``, float16 or the ``--int8`` transport) or as a run directory
``PRESET/``. Every row sees the same drawings (each source's split of the corpus at ``size``) and the same
Hint-AUC scribbles, in two ways: the default pipeline (``--flats regions``) and the network alone
(``--flats model``); a paint bucket and hintauc's oracle region fill run beside them as references.

Columns: Hint-AUC PSNR and SSIM of both ways; FID (the paper's: test images against outputs "generated with
fixed color hints"; here the network alone's outputs at hint ratio :data:`FID_ALPHA`, with a
:class:`~irodori.eval.fid.FeatureNet`); parameters and GMACs of one 512² forward; ms of that forward on this
CPU (random weights, the inference precision users get, median of ``n`` calls).

Outputs in ``out``: ``table1.json`` (rows carry ``preset``, ``step``, ``hint_auc_psnr`` — the default
pipeline —, ``hint_auc_psnr_model`` — the network alone —, ``fid``, ...; ``data`` names the corpus, never a
path), ``table1.md`` and ``table1_curves.png`` (per-ratio curves of every row and reference).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from irodori.atomic import atomic_path, atomic_write_text
from irodori.config import load_config
from irodori.errors import InputError, WeightsError
from irodori.eval.fid import FID
from irodori.eval.adapter import colorizer_methods
from irodori.eval.protocol import ALPHAS, ORACLE, Drawing, evaluate_protocol, load_drawings, paint_bucket
from irodori.eval.protocol import plot_curves
from irodori.experiments.table1 import model_cost
from irodori.colorize.flats import DEFAULT_SHADING
from irodori.models import build_generator
from irodori.models.summary import generator_inputs
from irodori.perf import time_calls
from irodori.colorize.pipeline import Colorizer
from irodori.colorize.precision import as_input, prepare_generator

ROWS_256 = (("pix2pixHD-style (Wang et al.)", "demo-256-pix2pixhd"), ("AlacGAN-style (Ci et al.)", "demo-256-alacgan"),
            ("ours w/o CSA", "demo-256-no-attention"), ("ours (CSA)", "demo-256"))
OPTIONAL_256 = (("SECat gate (Tag2Pix)", "demo-256-secat"),)
FID_ALPHA = 0.10
DEFAULT, NETWORK = "regions", "model"


def find_model(models: Path, preset: str) -> Path | None:
    """``models/PRESET.safetensors`` or the run directory ``models/PRESET``; None when neither is there."""
    for path in (models / f"{preset}.safetensors", models / preset):
        if path.is_file() or (path / "checkpoints").is_dir():
            return path
    return None


def corpus_drawings(root: Path, split: str, size: int, limit: int | None = None) -> list[Drawing]:
    """Every source's ``split`` (at most ``limit`` drawings each), named ``source/name``, in source order."""
    sources = sorted(p for p in Path(root).iterdir() if (p / "manifest.json").is_file()) if Path(root).is_dir() else []
    if not sources:
        raise InputError(f"{root} holds no corpus sources (folders with a manifest.json)")
    out = []
    for src in sources:
        try:
            found = load_drawings(src, split, size, limit)
        except InputError:  # a source without drawings in this split
            continue
        out += [Drawing(f"{src.name}/{d.name}", d.line, d.truth) for d in found]
    return out


def cpu_ms(cfg, size: int = 512, n: int = 5, precision: str = "auto") -> float:
    """Median ms of one ``size``² forward of ``cfg``'s generator on this CPU (random weights)."""
    G, dtype = prepare_generator(build_generator(cfg.generator), "cpu", precision)
    x = [as_input(t, dtype, "cpu") for t in generator_inputs(1, size)]

    def call():
        with torch.inference_mode():
            G(*x, flat=True)
    return float(np.median(time_calls(call, n, warmup=1))) * 1000


def _fid_or_note(extractor: str):
    try:
        fid = FID(extractor)
        return fid, f"{fid.label} [{fid.name}]"
    except WeightsError as exc:
        return None, "n/a: " + str(exc).strip().splitlines()[0].rstrip(".")


def evaluate_rows(models: Path, eval_root: Path, out: Path, *, split: str = "test", size: int = 256,
                  limit: int | None = None, fid_extractor: str = "auto", ms_runs: int = 5, alphas=ALPHAS,
                  log=print) -> dict:
    """Evaluate every row found in ``models`` (module docstring) and write the table, JSON and plot into ``out``.
    ``alphas``: the protocol's hint ratios (they must include :data:`FID_ALPHA`)."""
    rows = [(label, preset, path) for label, preset in (*ROWS_256, *OPTIONAL_256)
            if (path := find_model(Path(models), preset)) is not None]
    missing = [p for _, p in ROWS_256 if all(p != r[1] for r in rows)]
    if missing:
        raise InputError(f"{models} lacks the models of {', '.join(missing)} (PRESET.safetensors or PRESET/)")
    drawings = corpus_drawings(eval_root, split, size, limit)
    log(f"table1: {len(rows)} rows on {len(drawings)} drawings ({split}) at {size} px")
    cols, methods = {}, {}
    for label, preset, path in rows:
        cols[preset] = Colorizer.from_pretrained(path)
        methods.update(colorizer_methods(cols[preset], [DEFAULT, NETWORK], [DEFAULT_SHADING], preset))
    methods["paint-bucket"] = paint_bucket
    kept: dict[str, list] = {preset: [None] * len(drawings) for _, preset, _ in rows}

    def keep(name, alpha, i, image):
        preset, _, mode = name.rpartition("/")
        if mode == NETWORK and alpha == FID_ALPHA and preset in kept:
            kept[preset][i] = image

    t0 = time.perf_counter()
    res = evaluate_protocol(drawings, methods, "scribble", alphas=alphas, region_metrics=False, keep=keep,
                            progress=lambda i: log(f"  {i + 1}/{len(drawings)} drawings") if (i + 1) % 50 == 0 else None)
    log(f"table1: Hint-AUC of {len(methods)} methods in {time.perf_counter() - t0:.0f} s")
    fid, fid_note = _fid_or_note(fid_extractor)
    result_rows = [_row(label, preset, path, cols[preset], res, kept[preset], drawings, fid, ms_runs, log)
                   for label, preset, path in rows]
    data_name = f"illustration corpus ({Path(eval_root).name}; irodori prepare all), {split} split of every source"
    result = {"data": data_name, "split": split, "size": size, "images": len(drawings), "limit_per_source": limit,
              "hint_type": "scribble", "alphas": res["alphas"], "fid_alpha": FID_ALPHA, "fid_note": fid_note,
              "fid_extractor": fid.name if fid else None, "hintauc": res["hintauc"],
              "references": {k: res["methods"][k]["hint_auc"] for k in ("paint-bucket", ORACLE)},
              "rows": result_rows, "curves": {k: v["per_alpha"] for k, v in res["methods"].items()},
              "training": _training_record(Path(models))}
    write_outputs(result, res, out)
    return result


def _row(label, preset, path, col, res, outputs, drawings, fid, ms_runs, log) -> dict:
    cfg = load_config(preset)
    params, macs = model_cost(cfg, 512)
    default, network = res["methods"][f"{preset}/{DEFAULT}"], res["methods"][f"{preset}/{NETWORK}"]
    row = {"label": label, "preset": preset, "model": Path(path).name, "step": col.meta.get("step"),
           "weights": col.meta.get("dtype", "checkpoint"),
           "hint_auc_psnr": default["hint_auc"]["psnr"], "hint_auc_ssim": default["hint_auc"]["ssim"],
           "hint_auc_psnr_model": network["hint_auc"]["psnr"], "hint_auc_ssim_model": network["hint_auc"]["ssim"],
           "fid": None, "params": params, "gmacs_512": macs / 1e9, "cpu_ms_512": cpu_ms(cfg, 512, ms_runs)}
    if fid is not None:
        truths = [d.truth for d in drawings]
        key = {"corpus_drawings": [d.name for d in drawings], "size": truths[0].shape[0]}
        row["fid"] = fid([o.astype(np.float32) / 255 for o in outputs], truths, key)["fid"]
    log(f"  {preset}: " + " ".join(f"{k}={row[k]:.3f}" for k in ("hint_auc_psnr", "hint_auc_psnr_model", "fid",
                                                                   "cpu_ms_512") if row[k] is not None))
    return row


def _fmt(v, spec: str) -> str:
    return "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else format(v, spec)


def _training_record(models: Path) -> dict | None:
    """How the rows were trained, where a ``train-group`` record lies beside the models (a GPU call's
    ``group.json``, see docs/gpu-stage.md): device, steps, seconds."""
    path = models.parent / "group.json"
    try:
        g = json.loads(path.read_text())
        return {"device": g.get("device"), "steps": int(g["step"]), "seconds": float(g["seconds"]),
                "seconds_per_step": float(g["seconds_per_step"]), "runs": sorted(g.get("members") or g["runs"])}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def markdown_table(result: dict, title: str = "Table 1 on the illustration corpus") -> str:
    steps = sorted({r["step"] for r in result["rows"]}, key=lambda s: -1 if s is None else s)
    lines = [f"# {title}", "",
             f"{result['images']} drawings: {result['data']}, at {result['size']} px. Every row saw the same "
             f"Hint-AUC scribbles (hintauc {result['hintauc']}); steps trained: {', '.join(map(str, steps))}.", "",
             f"FID: the network alone's outputs at {100 * result['fid_alpha']:g}% of the hints against the ground "
             f"truths; {result['fid_note']}.", "",
             "| model | preset | step | weights | Hint-AUC PSNR ↑ (pipeline) | SSIM ↑ (pipeline) | Hint-AUC PSNR ↑ "
             "(network) | SSIM ↑ (network) | FID ↓ | params | GMACs @512² | ms @512² (this CPU) |",
             "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['label']} | {r['preset']} | {r['step']} | {r['weights']} | {_fmt(r['hint_auc_psnr'], '.2f')} "
                     f"| {_fmt(r['hint_auc_ssim'], '.4f')} | {_fmt(r['hint_auc_psnr_model'], '.2f')} | "
                     f"{_fmt(r['hint_auc_ssim_model'], '.4f')} | {_fmt(r['fid'], '.3f')} | {r['params'] / 1e6:.2f} M "
                     f"| {r['gmacs_512']:.1f} | {r['cpu_ms_512']:.0f} |")
    refs = result["references"]
    lines += ["", f"References in the same run: paint bucket {refs['paint-bucket']['psnr']:.2f} dB, oracle region "
                  f"fill {refs[ORACLE]['psnr']:.2f} dB (it reads the ground truth).", "",
              "Curves: `table1_curves.png` (PSNR and SSIM per hint ratio, every row and reference).", ""]
    if t := result.get("training"):
        lines += [f"Training: every row from scratch in one lockstep group ({', '.join(t['runs'])}) on "
                  f"{t['device'] or 'an unnamed device'}, {t['steps']:,} steps in {t['seconds']:.0f} s "
                  f"({t['seconds_per_step']:.3f} s per step of the group); how: "
                  "[gpu-stage.md](gpu-stage.md).", ""]
    return "\n".join(lines)


def write_outputs(result: dict, res: dict, out: Path, title: str = "Table 1 on the illustration corpus") -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "table1.json", json.dumps(result, indent=1) + "\n")
    atomic_write_text(out / "table1.md", markdown_table(result, title))
    with atomic_path(out / "table1_curves.png", suffix=".png") as tmp:
        plot_curves({**res, "methods": {k: v for k, v in res["methods"].items()}}, tmp)
