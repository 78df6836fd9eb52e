import json
import os
import tarfile

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from irodori.cli import main
from irodori.data import OpenMojiPairs, hash_split
from irodori.data.openmoji import ATTRIBUTION, prepare_openmoji
from irodori.errors import PrepareError

ENTRIES = [
    ("1F600", "smileys-emotion", "", "#FCEA2B"),
    ("1F44B", "people-body", "1F44B", "#E0A080"),
    ("1F44B-1F3FB", "people-body", "1F44B", "#F5D0B0"),  # skin-tone variant of the waving hand
    ("1F3E0", "travel-places", "", "#D22F27"),
    ("1F1E6-1F1E8", "flags", "", "#1E50A0"),  # dropped group
    ("1F3FB", "component", "", "#FADCBC"),  # dropped group
]


def _svg(fill: str, stroke: str) -> str:
    return ('<svg viewBox="0 0 72 72" xmlns="http://www.w3.org/2000/svg">'
            f'<circle cx="36" cy="36" r="24" fill="{fill}" stroke="{stroke}" stroke-width="4"/></svg>')


@pytest.fixture
def fake_package(tmp_path):
    pkg = tmp_path / "src" / "package"
    for sub in ("data", "color/svg", "black/svg"):
        (pkg / sub).mkdir(parents=True)
    records = []
    for hexcode, group, base, fill in ENTRIES:
        records.append({"emoji": "?", "hexcode": hexcode, "group": group, "subgroups": "x", "annotation": hexcode,
                        "skintone_base_hexcode": base, "skintone": ""})
        (pkg / "color" / "svg" / f"{hexcode}.svg").write_text(_svg(fill, "#000000"))
        (pkg / "black" / "svg" / f"{hexcode}.svg").write_text(_svg("none", "#000000"))
    (pkg / "data" / "openmoji.json").write_text(json.dumps(records))
    (pkg / "package.json").write_text(json.dumps({"name": "openmoji", "version": "17.0.0"}))
    return pkg


def test_prepare_from_directory(fake_package, tmp_path):
    out = tmp_path / "out"
    result = prepare_openmoji(out, size=32, source=fake_package.parent, workers=1, progress=False)
    m = result.manifest
    kept = ["1F3E0", "1F44B", "1F44B-1F3FB", "1F600"]
    assert sorted(m["files"]) == kept and result.rendered == 4 and result.skipped == 0
    assert m["files"]["1F44B-1F3FB"]["group"] == "1F44B"
    assert m["files"]["1F44B-1F3FB"]["split"] == m["files"]["1F44B"]["split"]
    for name, rec in m["files"].items():
        assert rec["split"] == hash_split(rec["group"])
        assert rec["licence"] == m["licence"] == "CC BY-SA 4.0" and rec["attribution"] == ATTRIBUTION
    assert sum(m["counts"].values()) == 4
    assert json.loads((out / "manifest.json").read_text())["counts"] == m["counts"]
    assert ATTRIBUTION in (out / "ATTRIBUTION.md").read_text()
    assert not (out / "color" / "1F1E6-1F1E8.png").exists() and not (out / "black" / "1F3FB.png").exists()
    color = np.asarray(Image.open(out / "color" / "1F600.png"))
    black = np.asarray(Image.open(out / "black" / "1F600.png"))
    assert color.shape == (32, 32, 3) and black.shape == (32, 32)
    assert (color[0, 0] == 255).all() and black[0, 0] == 255, "white paper"
    assert np.abs(color[16, 16].astype(int) - (0xFC, 0xEA, 0x2B)).max() <= 2, "RGB order, fill color"
    assert black.min() < 50 and black[16, 16] == 255, "a black outline, no fill"
    assert not list(out.rglob(".*.tmp"))

    # idempotent: a second run renders nothing and leaves the files alone
    mtime = os.stat(out / "color" / "1F600.png").st_mtime_ns
    again = prepare_openmoji(out, size=32, source=fake_package, workers=1, progress=False)
    assert again.rendered == 0 and again.skipped == 4 and again.manifest["files"] == m["files"]
    assert os.stat(out / "color" / "1F600.png").st_mtime_ns == mtime
    # an interrupted run (one file missing) is finished
    (out / "black" / "1F3E0.png").unlink()
    assert prepare_openmoji(out, size=32, source=fake_package, workers=1, progress=False).rendered == 1
    with pytest.raises(PrepareError, match="already holds 32 px"):
        prepare_openmoji(out, size=48, source=fake_package, workers=1, progress=False)

    # the prepared directory is what OpenMojiPairs reads
    split = m["files"]["1F600"]["split"]
    ds = OpenMojiPairs(out, split, size=32, line_methods={"xdog": 1.0})
    sample = ds[0]
    assert sample["color"].shape == (3, 32, 32) and sample["line"].min() < 0


def test_prepare_from_tgz_with_workers(fake_package, tmp_path):
    tgz = tmp_path / "openmoji-17.0.0.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(fake_package, arcname="package")
    out = tmp_path / "out"
    result = prepare_openmoji(out, size=24, source=tgz, workers=2, progress=False)
    assert result.rendered == 4 and result.manifest["source"] == "openmoji@17.0.0"
    assert Image.open(out / "color" / "1F44B.png").size == (24, 24)


def test_cli_prepare_openmoji(fake_package, tmp_path, capsys):
    out = tmp_path / "cli-out"
    assert main(["prepare", "openmoji", "--out", str(out), "--size", "16", "--source", str(fake_package),
                 "--workers", "1", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "openmoji@17.0.0" in printed and "train=" in printed and "rendered 4" in printed


def test_not_an_openmoji_package(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    with pytest.raises(PrepareError, match="not an openmoji package"):
        prepare_openmoji(tmp_path / "out", source=tmp_path / "empty", progress=False)
    assert main(["prepare", "openmoji", "--out", str(tmp_path / "o"), "--source", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_npm_failure_is_a_clear_error(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text("#!/bin/sh\necho 'npm ERR! network unreachable' >&2\nexit 1\n")
    npm.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(PrepareError, match="npm pack openmoji@17.0.0.*failed.*network unreachable"):
        prepare_openmoji(tmp_path / "out", progress=False)
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    with pytest.raises(PrepareError, match="npm not found"):
        prepare_openmoji(tmp_path / "out", progress=False)


def test_cli_bench_data(capsys):
    threads = torch.get_num_threads(), cv2.getNumThreads()
    try:
        assert main(["bench", "data", "--size", "32", "--n", "3"]) == 0
    finally:
        torch.set_num_threads(threads[0])
        cv2.setNumThreads(threads[1])
    lines = capsys.readouterr().out.strip().splitlines()
    assert any(line.startswith("xdog: ") and line.endswith("samples/s") for line in lines)
    assert any(line.startswith("morph: ") for line in lines) and any(line.startswith("hints: ") for line in lines)
    assert lines[-1].startswith("samples_per_s=") and float(lines[-1].split("=")[1]) > 0
