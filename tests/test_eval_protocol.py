"""The Hint-AUC protocol run, its reference baselines, and the region metrics."""

import json

import cv2
import numpy as np
from PIL import Image

from irodori.cli import main
from irodori.eval.metrics import region_bleed, region_fill
from irodori.eval.protocol import paint_bucket
from irodori.eval.regionhints import closed_region_dots

S = 96


def drawing(seed: int = 0):
    """Line art of three closed shapes on white and a ground truth filling each with its own color."""
    rng = np.random.default_rng(seed)
    line = np.ones((S, S), np.float32)
    truth = np.ones((S, S, 3), np.float32)
    shapes = [((24, 24), 14), ((68, 30), 16), ((46, 70), 18)]
    for (x, y), r in shapes:
        cv2.circle(truth, (x, y), r, tuple(float(v) for v in rng.uniform(0.1, 0.9, 3)), -1)
        cv2.circle(line, (x, y), r, 0.0, 2)
    return line, truth * line[..., None]


def test_paint_bucket_fills_hinted_regions_and_leaves_the_others_white():
    line, truth = drawing()
    hint = np.zeros((S, S, 3), np.float32)
    mask = np.zeros((S, S), np.float32)
    hint[22:27, 22:27] = (1.0, 0.0, 0.0)
    mask[22:27, 22:27] = 1
    out = paint_bucket(line, hint, mask)
    assert np.allclose(out[18, 24], (1, 0, 0)) and np.allclose(out[30, 68], 1.0) and np.allclose(out[2, 2], 1.0)


def test_closed_region_dots_sit_deep_inside_the_largest_closed_regions():
    line, truth = drawing()
    hint, mask = closed_region_dots(line, truth, count=2)
    ys, xs = np.nonzero(mask)
    centres = {(round(float(ys[sel].mean())), round(float(xs[sel].mean())))
               for sel in (xs > 50, xs <= 50)}
    assert centres == {(30, 68), (70, 46)}, "the two largest shapes, at their centres; never the background"
    assert np.allclose(hint[70, 46], truth[70, 46], atol=1 / 255)


def test_region_fill_and_bleed_score_a_clean_fill_a_short_fill_and_a_spill():
    line, truth = drawing()
    hint, mask = closed_region_dots(line, truth, count=3)
    clean = paint_bucket(line, hint, mask)
    assert region_fill(clean, truth, line, hint, mask) == 1.0
    assert region_bleed(clean, truth, line, hint, mask) == 0.0
    half = clean.copy()
    half[:, :S // 2] = 1.0  # the left half of every shape left white
    assert 0.2 < region_fill(half, truth, line, hint, mask) < 0.8
    one, one_mask = closed_region_dots(line, truth, count=1)
    spilled = paint_bucket(line, one, one_mask)
    spilled[1:10, 1:10] = (0.2, 0.2, 0.9)  # color in the unhinted background
    assert region_bleed(spilled, truth, line, one, one_mask) > 0.005


def test_evaluate_hintauc_protocol_skips_near_duplicates_and_ends_with_the_summary_line(model_path, tmp_path, capsys):
    root = tmp_path / "data"
    files = {}
    for i in range(3):
        line, truth = drawing(i)
        for sub, arr in (("black", line), ("color", truth)):
            (root / sub).mkdir(parents=True, exist_ok=True)
            Image.fromarray((arr * 255 + 0.5).astype(np.uint8)).save(root / sub / f"d{i}.png")
        files[f"d{i}"] = {"split": "test"}
    files["d2"]["duplicate_of"] = "train/x"  # a near-duplicate of a training file is no test drawing
    (root / "manifest.json").write_text(json.dumps({"files": files}))
    plot, out_json = tmp_path / "curve.png", tmp_path / "res.json"
    assert main(["evaluate", "--protocol", "hintauc", "--model", str(model_path), "--data", str(root),
                 "--size", str(S), "--flats", "regions,model", "--plot", str(plot), "--json", str(out_json)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    keys = [kv.split("=")[0] for kv in last.split()]
    assert keys == ["hint_auc_psnr", "hint_auc_ssim", "region_fill", "bleed"]
    res = json.loads(out_json.read_text())
    assert set(res["methods"]) == {"model/regions", "model/model", "paint-bucket", "oracle-region-fill"}
    assert res["images"] == 2 and len(res["alphas"]) == 8
    assert Image.open(plot).size[0] > 100
