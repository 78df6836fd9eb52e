"""The GPU stage's chain on the CPU: 8-bit transport weights, folding into returnable parts, unpacking, and
Table 1 on the corpus from the models that came back (``benchmarks/gpu_plan.py``, ``irodori table1 --rows demo-256``)."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from irodori.cli import main
from irodori.config import load_config
from irodori.eval.fid import FID
from irodori.experiments import table1_corpus
from irodori.experiments.table1_corpus import ROWS_256, evaluate_rows
from irodori.models import build_generator
from irodori.release import dequantize_int8, load_release, quantize_int8, save_release

from conftest import TINY_WIDTHS

ROOT = Path(__file__).resolve().parents[1]


def _plan():
    spec = importlib.util.spec_from_file_location("gpu_plan", ROOT / "benchmarks" / "gpu_plan.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_int8_weights_are_within_half_a_step_of_each_channel_and_load_as_float32(tmp_path):
    torch.manual_seed(0)
    w = torch.randn(16, 8, 3, 3) * torch.logspace(-3, 0, 16).view(-1, 1, 1, 1)  # channels of very different scale
    q = quantize_int8({"w": w, "b": torch.randn(16), "n": torch.tensor(3)})
    assert q["w"].dtype == torch.int8 and q["b"].dtype == torch.float16 and q["n"].dtype == torch.int64
    back = dequantize_int8(q)
    step = w.abs().flatten(1).amax(1) / 127
    assert ((back["w"] - w).abs().flatten(1).amax(1) <= step / 2 + 1e-7).all()
    cfg = load_config("demo-256", TINY_WIDTHS)
    G = build_generator(cfg.generator).eval()
    path = save_release(G.state_dict(), cfg, tmp_path / "g.safetensors", int8=True, step=7)
    cfg2, G2, meta = load_release(path)
    assert meta["dtype"] == "int8-per-channel" and meta["step"] == 7
    x = (torch.rand(1, 1, 64, 64) * 2 - 1, torch.zeros(1, 3, 64, 64), torch.zeros(1, 1, 64, 64))
    with torch.no_grad():
        assert (G(*x) - G2(*x)).abs().max() < 0.05


def test_folding_keeps_the_first_files_within_the_budget_and_unpacking_checks_every_part(tmp_path):
    plan = _plan()
    src = tmp_path / "src"
    src.mkdir()
    files = []
    for i, size in enumerate((3000, 5000, 9000, 2000)):
        (src / f"f{i}").write_bytes(bytes([i]) * size)
        files.append((f"d/f{i}", src / f"f{i}"))
    out, work = tmp_path / "out", tmp_path / "work"
    out.mkdir()
    work.mkdir()
    s = plan.fold(files, out, work, part_bytes=8192, max_back=10**6, max_parts=3)
    assert s["members"] == ["d/f0", "d/f1", "d/f3"] and s["left_out"] == ["d/f2"]  # 3 parts of 8 KiB hold these
    assert len(s["parts"]) <= 3 and all(p["bytes"] <= 8192 for p in s["parts"])
    back = plan.unpack(out, tmp_path / "back")
    assert back["left_out"] == ["d/f2"]
    assert (tmp_path / "back" / "d" / "f1").read_bytes() == bytes([1]) * 5000
    broken = out / s["parts"][0]["name"]
    broken.write_bytes(b"x" + broken.read_bytes()[1:])
    with pytest.raises(SystemExit, match="sha256"):
        plan.unpack(out, tmp_path / "again")


def _corpus(root: Path, size: int = 64) -> Path:
    """Two sources with one test drawing each: a paired one and a painting."""
    for name, paired in (("openclipart", True), ("naev", False)):
        src = root / name
        (src / "color").mkdir(parents=True)
        img = np.full((size, size, 3), 255, np.uint8)
        img[8:40, 8:40] = (200, 60, 40)
        img[30:56, 28:60] = (40, 90, 200)
        Image.fromarray(img).save(src / "color" / "d0.png")
        if paired:
            (src / "black").mkdir()
            line = np.full((size, size), 255, np.uint8)
            line[8, 8:40] = line[39, 8:40] = line[8:40, 8] = line[8:40, 39] = 0
            Image.fromarray(line).save(src / "black" / "d0.png")
        (src / "manifest.json").write_text(json.dumps({"files": {"d0": {"split": "test", "group": "d0"}}}))
    return root


class PooledFeatures(torch.nn.Module):
    def forward(self, x):
        return torch.nn.functional.adaptive_avg_pool2d(x, 4).flatten(1)


def test_table1_on_the_corpus_scores_every_row_both_ways_and_names_no_path(tmp_path, monkeypatch):
    models = tmp_path / "models"
    for i, (_, preset) in enumerate(ROWS_256):
        torch.manual_seed(i)
        cfg = load_config(preset, TINY_WIDTHS)
        save_release(build_generator(cfg.generator).state_dict(), cfg, models / f"{preset}.safetensors",
                     int8=i % 2 == 0, step=12)
    (tmp_path / "group.json").write_text(json.dumps({  # the record a GPU call brings back beside the models
        "step": 12, "seconds": 6.5, "seconds_per_step": 0.5, "device": "NVIDIA H200",
        "members": {p: {"config": p} for _, p in ROWS_256}}))
    monkeypatch.setattr(table1_corpus, "cpu_ms", lambda cfg, size=512, n=5: 1.0)
    monkeypatch.setattr(table1_corpus, "_fid_or_note",
                        lambda name: (FID("inception-nsfwjs", model=PooledFeatures()), "test features"))
    corpus = _corpus(tmp_path / "corpus")
    res = evaluate_rows(models, corpus, tmp_path / "out", size=64, alphas=(0.0, 0.1, 1.0), log=lambda _m: None)
    assert [r["preset"] for r in res["rows"]] == [p for _, p in ROWS_256] and res["images"] == 2
    for r in res["rows"]:
        assert r["step"] == 12 and np.isfinite(r["fid"]) and r["fid"] >= 0
        assert 0 < r["hint_auc_psnr_model"] < 60 and 0 < r["hint_auc_psnr"] < 60
        assert r["weights"] in ("int8-per-channel", "float32")
    assert res["rows"][3]["params"] > 10_000_000  # the preset's size, not the tiny test model's
    text = (tmp_path / "out" / "table1.json").read_text()
    assert str(tmp_path) not in text and "corpus" in json.loads(text)["data"]
    assert (tmp_path / "out" / "table1_curves.png").stat().st_size > 1000
    page = (tmp_path / "out" / "table1.md").read_text()
    assert "| ours (CSA) | demo-256 | 12 |" in page
    assert "on NVIDIA H200, 12 steps in 6 s (0.500 s per step of the group)" in page
    with pytest.raises(Exception, match="lacks the models of demo-256-alacgan"):
        (models / "demo-256-alacgan.safetensors").unlink()
        evaluate_rows(models, corpus, tmp_path / "out2", size=64, log=lambda _m: None)


@pytest.mark.slow
def test_the_gpu_command_runs_end_to_end_on_the_cpu(tmp_path, monkeypatch, capsys):
    """Pack, the lockstep training of every row and the stage under a time limit, exports, folding, unpacking and
    the table: the chain the GPU call runs, with a few steps at 64 px."""
    from irodori.data.sources.pack import pack_corpus

    corpus = _corpus(tmp_path / "corpus")
    for src in ("openclipart", "naev"):  # the test drawings double as training data here
        m = json.loads((corpus / src / "manifest.json").read_text())
        m["files"]["d0"]["split"] = "train"
        (corpus / src / "manifest.json").write_text(json.dumps(m))
    pack_corpus(corpus, tmp_path / "pack", 2**20, ("train",), log=lambda _m: None)
    plan = _plan()
    monkeypatch.setattr(sys, "argv", ["gpu_plan.py"])
    rc = plan.main(["train", "--out", str(tmp_path / "out"), "--work", str(tmp_path / "work"), "--pack",
                    str(tmp_path / "pack"), "--device", "cpu", "--train-s", "120", "--steps", "3", "--decay", "1",
                    "--workers", "0", "--extra", "data.size=64", "train.batch_size=2"])
    assert rc == 0
    group = json.loads((tmp_path / "work" / "runs" / "group.json").read_text())
    steps = {r["step"] for r in group["runs"].values()}
    assert len(steps) == 1 and len(group["runs"]) == 6  # every run stopped at the same step
    step = steps.pop()
    assert step == 3 or (group["time_limit"] and step >= 1)
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert len(names) <= 8 and "back.json" in names
    plan.unpack(tmp_path / "out", tmp_path / "back")
    for name, preset in plan.STAGES:  # both stages continue the bundled model's lineage
        stage = json.loads((tmp_path / "back" / "models" / f"{name}.json").read_text())
        assert stage["dtype"] == "int8-per-channel" and len(stage["lineage"]) >= 2
        assert stage["lineage"][-1]["steps"] == step and stage["lineage"][-1]["preset"] == preset
    for m in (tmp_path / "corpus").iterdir():  # evaluate on the test split again
        man = json.loads((m / "manifest.json").read_text())
        man["files"]["d0"]["split"] = "test"
        (m / "manifest.json").write_text(json.dumps(man))
    assert main(["table1", "--rows", "demo-256", "--models", str(tmp_path / "back" / "models"), "--eval-data",
                 str(corpus), "--out", str(tmp_path / "table"), "--size", "64", "--fid-extractor", "auto"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"table1={tmp_path / 'table' / 'table1.md'}"
    rows = json.loads((tmp_path / "table" / "table1.json").read_text())["rows"]
    assert [r["step"] for r in rows] == [step] * 4 and all(r["fid"] is None for r in rows)


def test_snapshots_export_every_checkpoint_a_stage_kept_for_the_gate_to_choose_from(tmp_path):
    plan = _plan()
    runs = tmp_path / "runs"
    assert main(["train", "tiny", "--out", str(runs / "stage"), "--steps", "4", "data.size=64",
                 "train.ckpt_every=2", "train.keep=5"]) == 0
    files = dict(plan.export_all(runs, tmp_path / "back", [], [("stage", "tiny")], lambda _m: None, snapshots=True))
    assert sorted(a for a in files if a.endswith(".safetensors")) == ["models/stage-s2.safetensors",
                                                                     "models/stage.safetensors"]
    early = json.loads(files["models/stage-s2.json"].read_text())
    assert early["step"] == 2 and early["lineage"][-1]["steps"] == 2 and early["dtype"] == "float16"
