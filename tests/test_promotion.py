"""The promotion gate (irodori promote), its evaluation adapter, the figure lightness and the region loss."""

import hashlib
import json

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from irodori.cli import main
from irodori.eval.adapter import colorizer_methods
from irodori.eval.gate import decide
from irodori.data.figure import figure_mask
from irodori.eval.metrics import figure_lightness
from irodori.colorize.hint_input import layer_from_floats
from irodori.losses import generator_objective, region_l1_loss

S = 64


def _drawing(seed):
    rng = np.random.default_rng(seed)
    line = np.ones((S, S), np.float32)
    truth = np.ones((S, S, 3), np.float32)
    for (x, y), r in [((18, 18), 10), ((44, 24), 12), ((32, 48), 11)]:
        cv2.circle(truth, (x, y), r, tuple(float(v) for v in rng.uniform(0.1, 0.9, 3)), -1)
        cv2.circle(line, (x, y), r, 0.0, 2)
    return line, truth * line[..., None]


@pytest.fixture
def corpus(tmp_path):
    """Two sources with three validation drawings each (real line art)."""
    root = tmp_path / "corpus"
    for k, source in enumerate(("alpha", "beta")):
        files = {}
        for i in range(3):
            line, truth = _drawing(10 * k + i)
            for sub, arr in (("black", line), ("color", truth)):
                (root / source / sub).mkdir(parents=True, exist_ok=True)
                Image.fromarray((arr * 255 + 0.5).astype(np.uint8)).save(root / source / sub / f"d{i}.png")
            files[f"d{i}"] = {"split": "val"}
        (root / source / "manifest.json").write_text(json.dumps({"files": files}))
    return root


def _results(cand_default, base_default, cand_alone, base_alone):
    """A gate evaluation with the given Hint-AUC PSNRs per source (other figures filled in)."""
    def method(psnr):
        return {"hint_auc": {"psnr": psnr, "ssim": 0.5}, "per_alpha": {0.0: {"psnr": psnr - 3}}, "lightness": 0.5}
    return {f"s{i}": {"images": 3, "truth_lightness": 0.6, "methods": {
        "candidate/regions": method(cd), "bundled/regions": method(bd), "candidate/model": method(ca),
        "bundled/model": method(ba), "blank-page": method(10.0)}}
        for i, (cd, bd, ca, ba) in enumerate(zip(cand_default, base_default, cand_alone, base_alone))}


def test_the_gate_promotes_a_candidate_whose_network_improves_and_no_source_falls():
    ok, notes, gain = decide(_results([20.0, 25.05], [20.0, 25.1], [19.0, 22.0], [18.0, 21.5]), "candidate", "bundled")
    assert ok and gain == pytest.approx(0.75) and "rises" in notes[-1]


def test_the_gate_refuses_a_source_that_falls_more_than_a_tenth_of_a_db():
    ok, notes, _ = decide(_results([20.0, 24.8], [20.0, 25.0], [21.0, 23.0], [18.0, 21.5]), "candidate", "bundled")
    assert not ok and notes[0].startswith("s1: the default pipeline falls 0.20 dB")


def test_the_gate_refuses_a_network_that_does_not_get_better():
    ok, notes, gain = decide(_results([21.0, 26.0], [20.0, 25.0], [18.0, 21.0], [18.0, 21.5]), "candidate", "bundled")
    assert not ok and gain == pytest.approx(-0.25) and "does not rise" in notes[-1]


class _CountingColorizer:
    def __init__(self):
        self.calls = 0

    def model_colors(self, line, layer, resolution=None):
        self.calls += 1
        return np.full((*line.shape, 3), 0.5, np.float32)

    @staticmethod
    def compose(line, layer, colors, mode, shading):
        from types import SimpleNamespace
        return SimpleNamespace(image=(colors * 255).astype(np.uint8))


def test_the_protocol_adapter_runs_the_network_once_per_input_content_not_per_address():
    col = _CountingColorizer()
    methods = colorizer_methods(col, ("regions", "model"), (0.0, 1.0))
    assert sorted(methods) == ["model/model", "model/regions@0", "model/regions@1"]
    line, hint, mask = np.ones((8, 8), np.float32), np.zeros((8, 8, 3), np.float32), np.zeros((8, 8), np.float32)
    for fn in methods.values():
        fn(line, hint, mask)
    assert col.calls == 1
    line2 = line.copy()
    line2[0, 0] = 0  # new content in a fresh array
    methods["model/model"](line2, hint, mask)
    line2[0, 0] = 1  # same address, other content
    methods["model/model"](line2, hint, mask)
    assert col.calls == 3


def test_float_hints_become_a_layer_rounded_to_the_nearest_level():
    layer = layer_from_floats(np.full((2, 2, 3), 0.5, np.float32), np.array([[1, 0], [0.6, 0.4]], np.float32))
    assert layer.rgb[0, 0].tolist() == [128, 128, 128] and layer.mask.tolist() == [[True, False], [True, False]]


def test_the_figure_leaves_out_the_page_around_it_but_not_white_inside_it():
    truth = np.ones((20, 20, 3), np.float32)
    truth[5:15, 5:15] = 0.2
    truth[8:12, 8:12] = 1.0  # a white patch enclosed by the figure
    fig = figure_mask(truth)
    assert fig[10, 10] and fig[6, 6] and not fig[0, 0] and fig.sum() == 100
    assert figure_lightness(truth, fig) == pytest.approx((84 * 21.247 + 16 * 100) / 100 / 100, abs=0.01)
    assert np.isnan(figure_lightness(truth, np.zeros((20, 20), bool)))


def test_the_region_loss_measures_only_the_hinted_regions():
    real = torch.zeros(1, 3, 4, 4)
    fake = torch.zeros(1, 3, 4, 4)
    fake[..., :2, :] = 1.0  # wrong in the top half only
    top = torch.zeros(1, 1, 4, 4)
    top[..., :2, :] = 1
    assert region_l1_loss(fake, real, top).item() == pytest.approx(1.0)
    assert region_l1_loss(fake, real, 1 - top).item() == 0.0
    assert region_l1_loss(fake, real, torch.zeros(1, 1, 4, 4)).item() == 0.0
    with pytest.raises(ValueError):
        generator_objective([[torch.zeros(1)]], [[torch.zeros(1)]], fake, real, lambda_fm=0, lambda_perc=0,
                            lambda_region=1.0)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("run") / "r"
    assert main(["train", "tiny", "--out", str(run), "--steps", "2", "generator.output=residual", "data.size=64",
                 "train.ckpt_every=2"]) == 0
    return run


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_promote_refuses_a_candidate_no_better_than_the_model_it_would_replace(tiny_run, corpus, tmp_path, capsys):
    base = tmp_path / "base.safetensors"
    assert main(["export", str(tiny_run), "--out", str(base), "--fp16"]) == 0
    before = (_sha(base), _sha(base.with_suffix(".json")))
    report = tmp_path / "gate.json"
    code = main(["promote", str(tiny_run), "--data", str(corpus), "--baseline", str(base), "--size", str(S),
                 "--json", str(report)])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 1 and out[-1].startswith("promoted=no step=2 gain_model=+0.000")
    assert (_sha(base), _sha(base.with_suffix(".json"))) == before
    res = json.loads(report.read_text())
    assert sorted(res["results"]) == ["alpha", "beta"] and res["promoted"] is False
    assert res["results"]["alpha"]["images"] == 3 and "truth_lightness" in res["results"]["alpha"]


def test_promote_on_a_test_split_only_reports(tiny_run, corpus, tmp_path, capsys):
    for source in ("alpha", "beta"):
        m = json.loads((corpus / source / "manifest.json").read_text())
        m["files"] = {k: {"split": "test"} for k in m["files"]}
        (corpus / source / "manifest.json").write_text(json.dumps(m))
    base = tmp_path / "base.safetensors"
    assert main(["export", str(tiny_run), "--out", str(base)]) == 0
    assert main(["promote", str(tiny_run), "--data", str(corpus), "--baseline", str(base), "--size", str(S),
                 "--split", "test", "--sources", "beta", "--limit", "2"]) == 0
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1].startswith("promoted=dry-run") and "alpha" not in out
    assert main(["promote", str(tiny_run), "--data", str(corpus), "--sources", "gamma"]) == 2
    capsys.readouterr()
    assert main(["promote", str(tmp_path / "missing.safetensors"), "--data", str(corpus), "--baseline", str(base)]) == 2
    err = capsys.readouterr().err
    assert "missing.safetensors does not exist" in err and len(err.strip().splitlines()) == 1


def test_promote_takes_release_weights_such_as_a_gpu_calls_8_bit_transport(tiny_run, corpus, tmp_path, capsys):
    from irodori.release import dequantize_int8, export_any

    cand, base = tmp_path / "cand.safetensors", tmp_path / "base.safetensors"
    assert main(["export", str(tiny_run), "--out", str(cand), "--int8"]) == 0
    assert main(["export", str(tiny_run), "--out", str(base), "--fp16"]) == 0
    out, step = export_any(cand, tmp_path / "back.safetensors", native_size=48)
    meta, sent = json.loads(out.with_suffix(".json").read_text()), json.loads(cand.with_suffix(".json").read_text())
    assert step == 2 and meta["dtype"] == "float16" and meta["native_size"] == 48
    assert meta["lineage"] == sent["lineage"]  # the stage was already counted where it was trained
    back, q = load_file(str(out)), dequantize_int8(load_file(str(cand)))
    assert all(torch.equal(back[k], q[k].half()) for k in q if q[k].is_floating_point())
    capsys.readouterr()
    report = tmp_path / "gate.json"
    assert main(["promote", str(cand), str(tiny_run), "--data", str(corpus), "--baseline", str(base), "--size",
                 str(S), "--dry-run", "--json", str(report)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    res = json.loads(report.read_text())
    assert sorted(res["candidates"]) == ["cand", "r"] and res["chosen"] in res["candidates"]
    best = max(res["candidates"].values(), key=lambda c: c["gain_model"])  # none passes: the one that rises most
    assert last.startswith("promoted=dry-run step=2 ") and last.endswith(f"chosen={best['run']}")


def _other_release(tiny_run, out, **generator):
    """A release of tiny_run's generator (or of a changed one) with other weights."""
    from irodori.config import config_from_dict
    from irodori.models import build_generator
    from irodori.release import newest_checkpoint, save_release

    state, _ = newest_checkpoint(tiny_run)
    raw = state["config"]
    raw["generator"].update(generator)
    cfg = config_from_dict(raw)
    torch.manual_seed(1)
    return save_release(build_generator(cfg.generator).state_dict(), cfg, out)


def test_blend_averages_two_releases_weight_by_weight_and_appends_a_blend_stage(tiny_run, tmp_path, capsys):
    from irodori.eval.card import _stage_rows

    a, b, out = tmp_path / "a.safetensors", tmp_path / "b.safetensors", tmp_path / "ab.safetensors"
    assert main(["export", str(tiny_run), "--out", str(a)]) == 0
    _other_release(tiny_run, b)
    assert main(["blend", str(a), str(b), "--weight", "0.25", "--out", str(out)]) == 0
    ta, tb, mixed = load_file(str(a)), load_file(str(b)), load_file(str(out))
    assert set(mixed) == set(ta) and any(not torch.equal(ta[k], tb[k]) for k in ta)
    for k in ta:
        if ta[k].is_floating_point():
            assert mixed[k].dtype == torch.float16
            torch.testing.assert_close(mixed[k].float(), 0.25 * ta[k] + 0.75 * tb[k], atol=2e-3, rtol=2e-3)
    meta, first = json.loads(out.with_suffix(".json").read_text()), json.loads(a.with_suffix(".json").read_text())
    assert meta["lineage"][:-1] == first["lineage"] and meta["native_size"] == first["native_size"]
    stage = meta["lineage"][-1]
    assert stage["preset"] == "blend" and stage["steps"] == 0 and stage["init_from"] == _sha(a)
    assert stage["blend"] == {"with": _sha(b), "weight": 0.25}
    assert "0.25 of stage 1's weights, 0.75 of" in _stage_rows(meta["lineage"])[-1]


def test_blend_refuses_a_bad_weight_another_generator_and_an_output_over_an_input(tiny_run, tmp_path, capsys):
    a, other, out = tmp_path / "a.safetensors", tmp_path / "o.safetensors", tmp_path / "x.safetensors"
    assert main(["export", str(tiny_run), "--out", str(a)]) == 0
    _other_release(tiny_run, other, num_blocks=1)
    capsys.readouterr()
    for args, words in [(["--weight", "1.5", "--out", str(out)], "--weight must lie in [0, 1]"),
                        (["--weight", "0.5", "--out", str(a)], "would replace an input")]:
        assert main(["blend", str(a), str(a), *args]) == 2
        err = capsys.readouterr().err.strip()
        assert words in err and len(err.splitlines()) == 1
    assert main(["blend", str(a), str(other), "--weight", "0.5", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "hold different generators" in err and len(err.splitlines()) == 1
    assert not out.exists() and not out.with_suffix(".json").exists()
