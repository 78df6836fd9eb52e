"""Training checkpoints (irodori.checkpoint): the newest complete file wins, old files and dead temps go."""

import json

import torch

from irodori import checkpoint as ckpt
from irodori.config import load_config
from irodori.train.state import build_state, resume


def _state(step: int) -> dict:
    return {"version": ckpt.CHECKPOINT_VERSION, "step": step, "w": torch.full((2,), float(step))}


def _names(folder) -> list[str]:
    return sorted(p.name for p in folder.glob("ckpt-*.pt"))


def test_find_latest_takes_a_complete_newer_checkpoint_the_pointer_does_not_name_yet(tmp_path):
    ckpt.save_checkpoint(tmp_path, _state(10), keep=3)
    # Killed after the checkpoint was renamed into place, before the pointer was rewritten.
    torch.save(_state(20), tmp_path / ckpt.checkpoint_name(20))
    assert json.loads((tmp_path / ckpt.POINTER).read_text())["latest"] == "ckpt-00000010.pt"
    latest = ckpt.find_latest(tmp_path)
    assert latest.name == "ckpt-00000020.pt"
    assert ckpt.load_checkpoint(latest)["step"] == 20


def test_find_latest_skips_an_unreadable_newest_file_and_reads_the_step_from_inside(tmp_path):
    torch.save(_state(5), tmp_path / ckpt.checkpoint_name(10))  # the name lies; the file's step is the truth
    (tmp_path / ckpt.checkpoint_name(30)).write_bytes(b"truncated")
    torch.save({"not": "ours"}, tmp_path / ckpt.checkpoint_name(20))
    latest = ckpt.find_latest(tmp_path)
    assert latest.name == "ckpt-00000010.pt" and ckpt.load_checkpoint(latest)["step"] == 5


def test_find_latest_orders_by_step_not_by_modification_time(tmp_path):
    import os

    for step in (2, 10, 100):
        ckpt.save_checkpoint(tmp_path, _state(step), keep=5)
    os.utime(tmp_path / ckpt.checkpoint_name(2), (2e9, 2e9))  # touched last, still the oldest step
    (tmp_path / ckpt.POINTER).unlink()
    assert ckpt.find_latest(tmp_path).name == "ckpt-00000100.pt"


def test_find_latest_of_a_missing_or_empty_folder_is_none(tmp_path):
    assert ckpt.find_latest(tmp_path / "missing") is None
    assert ckpt.find_latest(tmp_path) is None


def test_save_keeps_only_the_newest_k_even_files_the_pointer_never_listed(tmp_path):
    for step in range(1, 7):  # six files from runs whose pointer writes were lost
        torch.save(_state(step), tmp_path / ckpt.checkpoint_name(step))
    (tmp_path / ckpt.POINTER).write_text("{broken")
    ckpt.save_checkpoint(tmp_path, _state(7), keep=3)
    assert _names(tmp_path) == ["ckpt-00000005.pt", "ckpt-00000006.pt", "ckpt-00000007.pt"]
    pointer = json.loads((tmp_path / ckpt.POINTER).read_text())
    assert pointer == {"latest": "ckpt-00000007.pt",
                       "history": ["ckpt-00000005.pt", "ckpt-00000006.pt", "ckpt-00000007.pt"]}


def test_save_never_deletes_the_file_it_just_wrote_nor_files_of_later_steps(tmp_path):
    (tmp_path / ckpt.checkpoint_name(30)).write_bytes(b"unreadable, skipped at resume")
    for step in (10, 11):
        ckpt.save_checkpoint(tmp_path, _state(step), keep=1)
    assert _names(tmp_path) == ["ckpt-00000011.pt", "ckpt-00000030.pt"]
    assert ckpt.find_latest(tmp_path).name == "ckpt-00000011.pt"


def test_stale_temps_of_killed_writes_are_removed_and_nothing_else(tmp_path):
    temps = [".latest.json.k2j3h4.tmp", ".ckpt-00000010.pt.abc123.tmp"]
    kept = ["ckpt-00000010.pt", "latest.json", "notes.tmp", ".other.abc.tmp", "events.part"]
    for name in temps + kept:
        (tmp_path / name).write_bytes(b"x")
    removed = ckpt.remove_stale_temps(tmp_path)
    assert sorted(p.name for p in removed) == sorted(temps)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept)
    assert ckpt.remove_stale_temps(tmp_path / "missing") == []


def test_atomic_temp_names_match_what_remove_stale_temps_removes(tmp_path, monkeypatch):
    """The pattern must follow irodori.atomic's naming: capture the temp names a real save uses."""
    import tempfile

    seen = []
    real = tempfile.mkstemp

    def spy(*args, **kwargs):
        fd, name = real(*args, **kwargs)
        seen.append(name)
        return fd, name

    monkeypatch.setattr(tempfile, "mkstemp", spy)
    ckpt.save_checkpoint(tmp_path, _state(3), keep=2)
    assert len(seen) == 2
    for name in seen:  # recreate them as a kill would leave them
        open(name, "wb").close()
    assert len(ckpt.remove_stale_temps(tmp_path)) == 2


def test_starting_or_resuming_a_run_clears_the_temps_a_kill_left(tmp_path):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    (folder / ".latest.json.zz.tmp").write_text("{")
    (folder / ".ckpt-00000004.pt.zz.tmp").write_bytes(b"half")
    (tmp_path / ".config.yaml.zz.tmp").write_text("name: half")
    (tmp_path / "notes.tmp").write_text("the user's, not ours")
    cfg = load_config("tiny")
    logged = []
    resume(build_state(cfg, torch.device("cpu")), cfg, tmp_path, log=logged.append)
    assert list(folder.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoints", "notes.tmp"]
    assert sum("interrupted write" in line for line in logged) == 3


def test_other_ranks_leave_the_temps_to_rank_0(tmp_path):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    (folder / ".latest.json.zz.tmp").write_text("{")
    cfg = load_config("tiny")
    resume(build_state(cfg, torch.device("cpu")), cfg, tmp_path, rank=1)
    assert (folder / ".latest.json.zz.tmp").exists()
