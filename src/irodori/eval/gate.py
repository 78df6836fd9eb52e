"""The promotion gate: a candidate model against the bundled one, on every source of the corpus, in one run.

Both models colorize the same drawings with the same Hint-AUC scribbles (:mod:`irodori.eval.protocol`),
each through the default pipeline (``regions``) and as the network alone (``model``), beside a blank page.
A candidate replaces the bundled model only when no source's default score falls by more than
``MAX_DROP_DB`` and the network alone's mean over the sources rises (:func:`decide`). The decision is
made on validation splits; test splits are for reporting only.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from irodori.errors import InputError
from irodori.eval.adapter import colorizer_methods
from irodori.eval.protocol import blank_page, evaluate_protocol, load_drawings

#: The most a source's default-pipeline Hint-AUC PSNR may fall (dB) for a candidate to be promoted.
MAX_DROP_DB = 0.1
BLANK = "blank-page"


def corpus_sources(root: str | Path) -> list[str]:
    """The source folders of a corpus (each with a ``manifest.json``), in name order."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"corpus folder not found: {root} (build it with `irodori prepare all --out DIR`)")
    found = sorted(p.name for p in root.iterdir() if (p / "manifest.json").is_file())
    if not found:
        raise InputError(f"{root} holds no corpus source (no */manifest.json)")
    return found


def evaluate_models(models: dict, root: str | Path, split: str = "val", size: int = 256,
                    limit: int | None = None, sources: list[str] | None = None, progress=None) -> dict:
    """``source -> protocol result`` with methods ``NAME/regions`` and ``NAME/model`` for every
    Colorizer in ``models`` plus ``blank-page``, on the same drawings and hints."""
    results = {}
    for source in sources or corpus_sources(root):
        drawings = load_drawings(Path(root) / source, split, size, limit)
        methods = {}
        for name, col in models.items():
            methods.update(colorizer_methods(col, ("regions", "model"), prefix=name))
        methods[BLANK] = blank_page
        results[source] = evaluate_protocol(drawings, methods, "scribble", oracle=False, region_metrics=True,
                                            progress=(lambda i, s=source: progress(s, i)) if progress else None)
    return results


def source_row(result: dict, name: str) -> dict:
    """The figures of model ``name`` on one source: Hint-AUC PSNR/SSIM of the default pipeline and of the
    network alone, PSNR at α = 0 (no hints), the network's figure lightness at α = 0."""
    m = result["methods"]
    default, alone = m[f"{name}/regions"], m[f"{name}/model"]
    return {"psnr": default["hint_auc"]["psnr"], "ssim": default["hint_auc"]["ssim"],
            "psnr_model": alone["hint_auc"]["psnr"], "ssim_model": alone["hint_auc"]["ssim"],
            "psnr_alpha0": default["per_alpha"][0.0]["psnr"], "psnr_alpha0_model": alone["per_alpha"][0.0]["psnr"],
            "lightness": alone.get("lightness", math.nan), "region_fill": default.get("region_fill", math.nan),
            "region_fill_model": alone.get("region_fill", math.nan)}


def reference_row(result: dict) -> dict:
    """What every model on one source is compared with: the blank page at α = 0 and the truth's lightness."""
    return {"drawings": result["images"], "blank_psnr": result["methods"][BLANK]["per_alpha"][0.0]["psnr"],
            "truth_lightness": result["truth_lightness"]}


def decide(results: dict, candidate: str, baseline: str,
           max_drop: float = MAX_DROP_DB) -> tuple[bool, list[str], float]:
    """Whether ``candidate`` may replace ``baseline``, why (one line per finding), and the network alone's
    mean gain (dB) over the sources."""
    notes, ok = [], True
    cand_alone, base_alone = [], []
    for source, res in results.items():
        c, b = source_row(res, candidate), source_row(res, baseline)
        drop = b["psnr"] - c["psnr"]
        if drop > max_drop:
            ok = False
            notes.append(f"{source}: the default pipeline falls {drop:.2f} dB ({b['psnr']:.2f} -> {c['psnr']:.2f}), "
                         f"more than {max_drop} dB")
        cand_alone.append(c["psnr_model"])
        base_alone.append(b["psnr_model"])
    gain = float(np.mean(cand_alone) - np.mean(base_alone))
    if gain <= 0:
        ok = False
        notes.append(f"the network alone's mean Hint-AUC PSNR does not rise ({gain:+.2f} dB)")
    else:
        notes.append(f"the network alone's mean Hint-AUC PSNR rises {gain:+.2f} dB")
    return ok, notes, gain


def format_table(results: dict, names: list[str]) -> list[str]:
    """One row per source and model: the figures of :func:`source_row` and the references."""
    head = (f"{'source':<12}{'model':<11}{'n':>4}{'AUC psnr':>9}{'ssim':>7}{'alone':>7}{'ssim':>7}"
            f"{'α0 psnr':>8}{'α0 alone':>9}{'blank':>7}{'light':>7}{'truth':>7}")
    rows = [head]
    for source, res in results.items():
        ref = reference_row(res)
        for name in names:
            r = source_row(res, name)
            rows.append(f"{source:<12}{name:<11}{ref['drawings']:>4}{r['psnr']:>9.2f}{r['ssim']:>7.3f}"
                        f"{r['psnr_model']:>7.2f}{r['ssim_model']:>7.3f}{r['psnr_alpha0']:>8.2f}"
                        f"{r['psnr_alpha0_model']:>9.2f}{ref['blank_psnr']:>7.2f}{r['lightness']:>7.3f}"
                        f"{ref['truth_lightness']:>7.3f}")
    return rows
