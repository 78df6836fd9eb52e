"""The bundled model's card (``assets/models/demo.md``), written from its release metadata and from the
promotion gate's evaluation (:mod:`irodori.eval.gate`): no figure in it is typed in by hand."""

from __future__ import annotations

from irodori.eval.gate import MAX_DROP_DB, reference_row, source_row

INTRO = """The model bundled with irodori (`Colorizer.from_pretrained("demo")`, `make demo`), a CPU-inference-sized
version of the model of Yuan & Simo-Serra, *Line Art Colorization with Concatenated Spatial Attention*, trained
in stages on this project's illustration corpus (`irodori prepare all`). Every figure below was written by
`irodori promote` from the run that made these weights; the README's "Training the bundled model" says how
a stage is trained and promoted."""

COLUMNS = """Columns: Hint-AUC (hintauc's scribbles at 8 hint ratios, PSNR/SSIM area under the curve) of the default
pipeline (`--flats regions`) and of the network alone (`--flats model`); PSNR with no hints (α = 0) of both
and of a blank white page; the mean lightness (CIELAB L*/100) of the figure (every pixel but the page around
it) the network paints with no hints, beside the ground truth's."""


def _stage_rows(lineage: list[dict]) -> list[str]:
    rows = ["| stage | preset | steps | data | sources | started from (sha256) | date |", "|---|---|---|---|---|---|---|"]
    for i, s in enumerate(lineage, 1):
        if s.get("blend"):
            share = s["blend"].get("weight", 0)
            rows.append(f"| {i} | blend | 0 | {share:g} of stage {i - 1}'s weights, {1 - share:g} of "
                        f"{str(s['blend'].get('with'))[:12]}'s | | {(s.get('init_from') or '')[:12]} | "
                        f"{s.get('date', '')[:10]} |")
            continue
        data = s.get("data") or {}
        sources = ", ".join(f"{k} {v:g}" for k, v in (data.get("sources") or {}).items()) or "by count"
        start = (s.get("init_from") or "random init")[:12]
        rows.append(f"| {i} | `{s.get('preset')}` | {s.get('steps', 0):,} | {data.get('dataset', '?')} "
                    f"`{data.get('root', '')}` | {sources} | {start} | {s.get('date', '')[:10]} |")
    return rows


def _figure_rows(results: dict, names: dict[str, str]) -> list[str]:
    rows = ["| source | drawings | model | Hint-AUC PSNR | SSIM | network alone PSNR | SSIM | PSNR α=0 | "
            "alone α=0 | blank page | lightness | truth |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for source, res in results.items():
        ref = reference_row(res)
        for key, label in names.items():
            r = source_row(res, key)
            rows.append(f"| {source} | {ref['drawings']} | {label} | {r['psnr']:.2f} | {r['ssim']:.3f} | "
                        f"{r['psnr_model']:.2f} | {r['ssim_model']:.3f} | {r['psnr_alpha0']:.2f} | "
                        f"{r['psnr_alpha0_model']:.2f} | {ref['blank_psnr']:.2f} | {r['lightness']:.3f} | "
                        f"{ref['truth_lightness']:.3f} |")
    return rows


def render_card(meta: dict, results: dict, names: dict[str, str], notes: list[str], command: str,
                split: str) -> str:
    """The card in Markdown. ``meta``: the promoted release's metadata (config, step, lineage, dtype);
    ``results``: :func:`irodori.eval.gate.evaluate_models`'s; ``names``: method prefix -> label, the
    promoted model first; ``notes``: the gate's findings; ``command``: the command that made it."""
    cfg = meta.get("config") or {}
    lineage = meta.get("lineage") or []
    total = sum(int(s.get("steps") or 0) for s in lineage)
    lines = ["# irodori `demo` model card", "", INTRO, "",
             f"Preset of the last stage: `{cfg.get('name')}` ({cfg.get('description', '')}). Weights: "
             f"{meta.get('dtype')}, {total:,} training steps over {len(lineage)} stages, working size "
             f"{meta.get('native_size') or cfg.get('data', {}).get('size')} px (long side) by default.", "",
             "## Lineage", "", *_stage_rows(lineage), "",
             "## Deviations from the paper (last stage's preset)", "",
             *[f"- {d}" for d in cfg.get("deviations", [])], "",
             f"## Figures ({split} splits)", "", COLUMNS, "", *_figure_rows(results, names), "",
             "## Promotion", "",
             f"Promoted when no source's default Hint-AUC PSNR falls by more than {MAX_DROP_DB} dB against the model "
             "it replaces and the network alone's mean over the sources rises. Findings:", "",
             *[f"- {n}" for n in notes], "", f"Command: `{command}`", "",
             "## Licences", "",
             "OpenMoji CC BY-SA 4.0; DiceBear CC BY 4.0 (adventurer, micah, toon-head) or CC0 1.0 (lorelei, "
             "open-peeps); OpenClipart public domain; Battle for Wesnoth GPL-2+; Naev GPL-3+ / GPL-3. Each "
             "source's `manifest.json` and `ATTRIBUTION.md` (written by `irodori prepare`) name every file's "
             "licence and author. The weights are shared under CC BY-SA 4.0 (OpenMoji's terms); the GPL "
             "paintings' terms apply to the training set, whose source is the Debian packages named in the "
             "corpus manifests.", ""]
    return "\n".join(lines)
