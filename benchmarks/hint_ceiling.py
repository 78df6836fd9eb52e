"""How much can 8 paper-style hints be worth on OpenMoji? Ceilings for ``irodori evaluate``'s figures.

Runs a model over a prepared split exactly as ``irodori evaluate`` does (same seeded hints), then scores
what oracles that know the ground truth would get, starting from the model's own no-hint output:

- ``fill_hint_color``: every closed region of the line art that holds a hint (not the background, i.e.
  no region touching the border) flat-filled with the hints' mean color there, line art multiplied back:
  perfect propagation of what the user gave;
- ``truth_in_hinted_regions``: the ground-truth pixels in those regions: a perfect colorization of
  every region a hint touches, the model's prior everywhere else;
- ``truth_in_all_regions``: the ground truth in every closed region (the background and the lines stay
  the model's): what a perfect model could get with hints in every region;
- ``hint_de_truth``: the ground truth's own hint ΔE (a perfect colorization's ``hint_de``).

    python benchmarks/hint_ceiling.py --data data/openmoji [--model demo] [--split test] [--limit N]

Regions are those of the bleeding metric (``irodori.eval.metrics.line_regions``).
Not part of the test suite.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from irodori.eval.evaluate import hint_de_truth, load_openmoji_split, run_generator
from irodori.eval.metrics import METRICS, line_regions
from irodori.colorize.pipeline import Colorizer


def closed_regions(line: np.ndarray) -> tuple[np.ndarray, set[int]]:
    """Region labels of the line art and the labels that are not closed regions: ink (0) and every region
    touching the border (the background)."""
    lab = line_regions(line)
    border = set(np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]])).tolist())
    return lab, border | {0}


def oracle(base: np.ndarray, it, lab: np.ndarray, labels: set[int], source: str) -> np.ndarray:
    """``base`` with each region in ``labels`` replaced: by its hints' mean color times the line art
    (``source="hint"``) or by the ground truth (``"truth"``)."""
    out = base.copy()
    for lbl in labels:
        r = lab == lbl
        if source == "hint":
            color = it.hint[r & (it.mask > 0)].mean(axis=0)
            out[r] = color[None] * it.line[r][:, None]
        else:
            out[r] = it.color[r]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="demo")
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="test")
    p.add_argument("--hints-seed", type=int, default=0)
    p.add_argument("--num-hints", type=int, default=8)
    p.add_argument("--limit", type=int)
    args = p.parse_args()

    col = Colorizer.from_pretrained(args.model)
    items = load_openmoji_split(args.data, args.split, col.native_size, args.hints_seed, args.num_hints,
                                limit=args.limit)
    with torch.no_grad():
        with_h = run_generator(col.generator, items, True)
        without = run_generator(col.generator, items, False)

    def mean_psnr(outs):
        return float(np.mean([METRICS["psnr"](o, it.color) for o, it in zip(outs, items)]))

    regions = [closed_regions(it.line) for it in items]
    hinted = [set(np.unique(lab[it.mask > 0]).tolist()) - skip for (lab, skip), it in zip(regions, items)]
    closed = [set(np.unique(lab).tolist()) - skip for lab, skip in regions]
    rows = {
        "model_nohints": mean_psnr(without),
        "model_hints": mean_psnr(with_h),
        "fill_hint_color": mean_psnr([oracle(o, it, lab, h, "hint")
                                      for o, it, (lab, _), h in zip(without, items, regions, hinted)]),
        "truth_in_hinted_regions": mean_psnr([oracle(o, it, lab, h, "truth")
                                              for o, it, (lab, _), h in zip(without, items, regions, hinted)]),
        "truth_in_all_regions": mean_psnr([oracle(o, it, lab, c, "truth")
                                           for o, it, (lab, _), c in zip(without, items, regions, closed)]),
    }
    de = hint_de_truth(items)
    print(f"{args.model} on {args.split} ({len(items)} images, {col.native_size} px, {args.num_hints} hints, "
          f"seed {args.hints_seed}); PSNR in dB, oracles start from the model's no-hint output")
    for k, v in rows.items():
        print(f"{k:<26}{v:>8.3f}")
    print(f"{'regions hinted / closed':<26}{np.mean([len(h) for h in hinted]):>8.2f} / "
          f"{np.mean([len(c) for c in closed]):.2f} per image")
    print(f"{'hint_de_truth':<26}{de:>8.3f}")
    print(" ".join(f"{k}={v:.3f}" for k, v in rows.items()) + f" hint_de_truth={de:.3f}")


if __name__ == "__main__":
    main()
