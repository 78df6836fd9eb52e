"""The paper's Table 1 at small scale: train each compared model on the same data and budget, then
evaluate all of them with the same fixed hints.

Rows (:data:`ROWS`), each an ordinary resumable training run in ``OUT/runs/PRESET``:

* ``demo-pix2pixhd``: Wang et al. [26], pix2pixHD's global generator sized like ``demo``;
* ``demo-alacgan``: Ci et al. [2], an AlacGAN-style U-Net trained with WGAN-GP;
* ``demo-no-attention``: ours without the CSA module;
* ``demo``: ours.

Outputs: ``OUT/table1.md`` (FID, PSNR, SSIM, hint ΔE, bleeding, params, MACs at the eval size),
``OUT/table1.json`` and ``OUT/table1_grid.png`` (rows = images; columns = line | hints | each
model | ground truth). Rerunning resumes unfinished runs and re-evaluates.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from irodori.config import load_config
from irodori.errors import IrodoriError, WeightsError
from irodori.atomic import atomic_write_bytes, atomic_write_text
from irodori.eval.evaluate import EvalItem, dataset_key, evaluate, load_openmoji_split, run_generator
from irodori.eval.fid import FID
from irodori.models import build_generator
from irodori.models.summary import count_params, generator_inputs, summarize
from irodori.colorize.pipeline import Colorizer
from irodori.train.loop import train

#: (label in the table, preset) in the paper's order.
ROWS = (("pix2pixHD (Wang et al.)", "demo-pix2pixhd"), ("AlacGAN-style (Ci et al.)", "demo-alacgan"),
        ("ours w/o CSA", "demo-no-attention"), ("ours (CSA)", "demo"))
PER_IMAGE = ("psnr", "ssim", "hint_de", "bleeding")


def row_overrides(data: str | Path, steps: int, size: int, extra=()) -> list[str]:
    """Overrides every row gets: the same data, size and step budget (then the caller's own)."""
    return [f"data.root={Path(data)}", "data.dataset=openmoji", f"data.size={size}", f"train.steps={steps}",
            *extra]


def model_cost(cfg, size: int) -> tuple[int, int]:
    """(parameters, MACs of one forward at size x size), built on the meta device."""
    with torch.device("meta"):
        g = build_generator(cfg.generator)
    _, macs = summarize(g, generator_inputs(1, size, "meta"))
    return count_params(g), macs


def _to_u8(a: np.ndarray) -> np.ndarray:
    return (np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)


def comparison_grid(items: list[EvalItem], outputs: dict[str, list[np.ndarray]], pad: int = 2) -> Image.Image:
    """Rows = images; columns = line | hints (on white) | each model | ground truth, with a label row on top."""
    labels = ["line", "hints", *outputs, "ground truth"]
    s = items[0].color.shape[0]
    cell = s + pad
    head = 14
    grid = Image.new("RGB", (cell * len(labels) + pad, head + cell * len(items) + pad), "white")
    draw = ImageDraw.Draw(grid)
    for j, label in enumerate(labels):
        draw.text((pad + j * cell, 1), label[: max(4, s // 6)], fill="black")  # ~6 px per character
    for i, it in enumerate(items):
        cols = [np.repeat(it.line[..., None], 3, 2), it.hint * it.mask[..., None] + (1 - it.mask[..., None]),
                *(outs[i] for outs in outputs.values()), it.color]
        for j, c in enumerate(cols):
            grid.paste(Image.fromarray(_to_u8(c)), (pad + j * cell, head + pad + i * cell))
    return grid


def _fmt(v, spec: str) -> str:
    return "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else format(v, spec)


def markdown_table(result: dict) -> str:
    fid_col = result["fid_column"]
    lines = [
        f"# Table 1 at small scale ({result['split']} split, {result['images']} images at {result['size']} px, "
        f"a budget of {result['steps']} training steps per model)",
        "",
        f"Same data ({result['data']}), budget and fixed hints (seed {result['hints_seed']}, "
        f"{result['num_hints']} patches per image) for every model. PSNR/SSIM/hint ΔE/bleeding: with hints; "
        "hint ΔE = CIE76 ΔE to the hint color at hinted pixels off the lines; bleeding = ΔE to the ground truth in "
        "thin bands on both sides of the lines around hinted regions (lower is better).",
        "",
        f"{fid_col}: {result['fid_note']}",
        "",
        f"| model | preset | step | {fid_col} ↓ | PSNR ↑ | SSIM ↑ | hint ΔE ↓ | bleeding ↓ | PSNR w/o hints | "
        f"params | MACs @{result['size']} |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['label']} | {r['preset']} | {r['step']} | {_fmt(r.get('fid'), '.3f')} | {_fmt(r['psnr'], '.2f')} | "
            f"{_fmt(r['ssim'], '.4f')} | {_fmt(r['hint_de'], '.2f')} | {_fmt(r['bleeding'], '.2f')} | "
            f"{_fmt(r['psnr_nohints'], '.2f')} | {r['params'] / 1e6:.2f} M | {r['macs'] / 1e6:,.0f} M |")
    lines += ["", "Grid: `table1_grid.png` (rows = images; columns = line | hints | each model | ground truth).", ""]
    return "\n".join(lines)


def run_table1(data: str | Path, steps: int, out: str | Path, *, size: int = 128, num_hints: int = 8,
               hints_seed: int = 0, split: str = "test", limit: int | None = None, preset_overrides=(),
               rows=ROWS, fid_extractor: str = "inception-nsfwjs", grid_images: int = 4, train_only: bool = False,
               log=print) -> dict:
    """Train (or resume) every row, then evaluate them all and write the table, JSON and grid into ``out``."""
    out = Path(out)
    overrides = row_overrides(data, steps, size, preset_overrides)
    cfgs = [(label, preset, load_config(preset, overrides)) for label, preset in rows]  # fail early on bad config
    for label, preset, cfg in cfgs:
        t0 = time.perf_counter()
        log(f"== {label}: training {preset} to step {steps} in {out / 'runs' / preset}")
        res = train(cfg, out / "runs" / preset, log=log)
        if res.get("interrupted"):
            raise IrodoriError(f"training {preset} was interrupted at step {res['step']}; rerun to resume")
        log(f"   {preset}: step {res['step']} ({time.perf_counter() - t0:.0f} s)")
    if train_only:
        return {}

    items = load_openmoji_split(data, split, size, hints_seed, num_hints, limit=limit)
    fid, fid_note, fid_column = None, "", "FID"
    try:
        fid = FID(fid_extractor)
        fid_note = fid.label + f" [{fid.name}]"
        fid_column = "FID-nsfwjs" if fid.name == "inception-nsfwjs" else "FID"
    except WeightsError as exc:
        first = str(exc).strip().splitlines()[0]
        fid_note = f"n/a: {first}"
        fid_column = "FID-nsfwjs" if fid_extractor == "inception-nsfwjs" else "FID"
    metrics = PER_IMAGE + (("fid",) if fid is not None else ())
    key = dataset_key(data, split, size, limit) if fid is not None else None
    result_rows, grid_outputs = [], {}
    grid_items = items[:grid_images]
    for label, preset, cfg in cfgs:
        t0 = time.perf_counter()
        col = Colorizer.from_pretrained(out / "runs" / preset)
        res = evaluate(col.generator, items, metrics, fid=fid, real_key=key)
        params, macs = model_cost(cfg, size)
        row = {"label": label, "preset": preset, "step": col.meta.get("step"), "params": params, "macs": macs,
               **{k: res.get(k) for k in (*PER_IMAGE, "psnr_nohints", "fid")}}
        result_rows.append(row)
        grid_outputs[label.split(" (")[0]] = run_generator(col.generator, grid_items, True)
        log(f"   {preset}: " + " ".join(f"{k}={_fmt(row[k], '.3f')}" for k in (*PER_IMAGE, "fid") if k in row)
            + f" ({time.perf_counter() - t0:.0f} s)")
    result = {"data": str(data), "split": split, "size": size, "images": len(items), "steps": steps,
              "hints_seed": hints_seed, "num_hints": num_hints, "fid_column": fid_column, "fid_note": fid_note,
              "fid_extractor": fid.name if fid is not None else None, "preset_overrides": list(preset_overrides),
              "rows": result_rows}
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "table1.json", json.dumps(result, indent=1))
    atomic_write_text(out / "table1.md", markdown_table(result))
    grid = comparison_grid(grid_items, grid_outputs)
    atomic_write_bytes(out / "table1_grid.png", lambda f: grid.save(f, format="PNG"))
    return result
