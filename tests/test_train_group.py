"""Runs trained in lockstep (``irodori train-group``): same batches, same steps, the time limit, fitted steps."""

import json
from pathlib import Path

import pytest
import torch

from irodori import checkpoint as ckpt
from irodori.cli import main
from irodori.config import load_config
from irodori.errors import ConfigError
from irodori.train.group import Member, check_members, fit_steps, train_group, with_steps

FAST = ["train.log_every=5", "train.sample_every=1000", "data.num_workers=0", "train.ckpt_every=1000"]


def _state(run_dir):
    return ckpt.load_checkpoint(ckpt.find_latest(Path(run_dir) / "checkpoints"))


def test_a_run_in_a_group_trains_exactly_as_it_trains_alone(tmp_path, capsys):
    assert main(["train", "tiny", *FAST, "--out", str(tmp_path / "alone"), "--steps", "4"]) == 0
    assert main(["train-group", "--out", str(tmp_path / "g"), "--run", "tiny", "--run", "plain=tiny", *FAST,
                 "--steps", "4", "--device", "cpu"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "step=4 runs=tiny,plain"
    alone, grouped, twin = _state(tmp_path / "alone"), _state(tmp_path / "g" / "tiny"), _state(tmp_path / "g" / "plain")
    assert alone["step"] == grouped["step"] == twin["step"] == 4
    for part in ("G", "G_ema", "D"):
        for k, v in alone[part].items():
            assert torch.allclose(v, grouped[part][k], atol=1e-6, rtol=0), f"{part}.{k}"
            assert torch.allclose(v, twin[part][k], atol=1e-6, rtol=0), f"{part}.{k} (second run)"
    summary = json.loads((tmp_path / "g" / "group.json").read_text())
    assert summary["step"] == 4 and set(summary["runs"]) == {"tiny", "plain"} and summary["device"] == "cpu"


def test_runs_that_would_see_other_batches_are_refused():
    tiny = load_config("tiny")
    with pytest.raises(ConfigError, match="other data settings"):
        check_members([Member("a", tiny), Member("b", load_config("tiny", ["data.size=64"]))])
    with pytest.raises(ConfigError, match="train.batch_size"):
        check_members([Member("a", tiny), Member("b", load_config("tiny", ["train.batch_size=8"]))])
    with pytest.raises(ConfigError, match="distinct"):
        check_members([Member("a", tiny), Member("a", tiny)])
    check_members([Member("a", tiny), Member("b", load_config("tiny", ["generator.block=none", "train.lr=0.0001"]))])


def test_fitted_steps_end_inside_the_time_left_and_scale_the_decay():
    assert fit_steps(25, 0.5, 100.0, 3000) == 225
    assert fit_steps(25, 0.01, 100.0, 3000) == 3000  # everything fits: the configured steps
    assert fit_steps(25, 0.5, -3.0, 3000) == 25      # nothing more fits
    cfg = with_steps(load_config("tiny", ["train.steps=3000", "train.lr_decay_steps=1200"]), 1500)
    assert (cfg.train.steps, cfg.train.lr_decay_steps) == (1500, 600)


def test_the_time_limit_stops_every_run_at_the_same_step_and_fit_lowers_the_steps(tmp_path):
    cfgs = [load_config("tiny", [*FAST, "train.steps=500", "train.lr_decay_steps=200"]),
            load_config("tiny", [*FAST, "train.steps=500", "train.lr_decay_steps=100", "generator.block=none"])]
    res = train_group([Member("a", cfgs[0]), Member("b", cfgs[1])], tmp_path, time_limit=8.0, fit=True, warmup=1,
                      calibrate=2, reserve=0.5, device="cpu", log=lambda _m: None)
    a, b = _state(tmp_path / "a"), _state(tmp_path / "b")
    assert a["step"] == b["step"] == res["step"] and res["step"] >= 3
    assert res["fitted_steps"] is not None and res["fitted_steps"] < 500
    fitted = load_config(str(tmp_path / "a" / "config.yaml"))
    assert fitted.train.steps == res["fitted_steps"] == a["config"]["train"]["steps"]
    assert fitted.train.lr_decay_steps == round(200 * res["fitted_steps"] / 500)
    assert res["runs"]["b"]["lr_decay_steps"] == round(100 * res["fitted_steps"] / 500)


def test_a_run_that_fails_is_left_out_and_the_others_go_on(tmp_path, monkeypatch):
    from irodori.train import group

    real = group._step

    def flaky(r, batch, *args):
        if r.member.name == "b" and r.state.step == 1:
            raise RuntimeError("no such kernel")
        real(r, batch, *args)

    monkeypatch.setattr(group, "_step", flaky)
    cfg = load_config("tiny", [*FAST, "train.steps=3"])
    res = train_group([Member("a", cfg), Member("b", cfg)], tmp_path, device="cpu", log=lambda _m: None)
    assert res["step"] == 3 and res["failed"]["b"]["step"] == 1 and "no such kernel" in res["failed"]["b"]["error"]
    assert _state(tmp_path / "a")["step"] == 3 and set(res["runs"]) == {"a"}
