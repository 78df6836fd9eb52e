"""The compact corpus pack: every file, 1-bit line art, WebP colour within tolerance, resumable, read by the dataset."""

import json

import numpy as np
import pytest
from PIL import Image

from irodori.data.corpus import CorpusPairs
from irodori.data.imageio import load_grey, load_rgb
from irodori.data.sources import pack
from irodori.data.sources.pack import INK_BELOW, pack_corpus
from irodori.errors import PrepareError


def _psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255 ** 2 / max(mse, 1e-12))


def _flat(seed, size=48):
    """A flat drawing (few colours: stored lossless) with anti-aliased grey line art."""
    rng = np.random.default_rng(seed)
    img = np.full((size, size, 3), 255, np.uint8)
    for _ in range(3):
        y, x = rng.integers(0, size - 16, 2)
        img[y:y + 16, x:x + 16] = rng.integers(0, 255, 3)
    line = np.full((size, size), 255, np.uint8)
    line[::8] = 0
    line[4::8] = 100  # grey: below the threshold -> ink
    line[2::8] = 200  # light grey -> paper
    return img, line


def _painting(seed, size=48):
    """A shaded painting, smooth as the portraits are at 256 px (stored lossy)."""
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 255, (6, 6, 3), dtype=np.uint8))
    return np.asarray(coarse.resize((size, size), Image.Resampling.BICUBIC))


@pytest.fixture
def corpus(tmp_path):
    root = tmp_path / "corpus"
    for name, paired, make in (("openmoji", True, _flat), ("naev", False, _painting)):
        src = root / name
        (src / "color").mkdir(parents=True)
        files = {}
        for i in range(4):
            split = "train" if i < 3 else "val"
            if paired:
                img, line = make(i)
                (src / "black").mkdir(exist_ok=True)
                Image.fromarray(line).save(src / "black" / f"d{i}.png")
            else:
                img = make(i)
            Image.fromarray(img).save(src / "color" / f"d{i}.png")
            files[f"d{i}"] = {"split": split, "group": f"d{i}"}
        files["dup"] = {"split": "train", "group": "dup", "duplicate_of": "x/y"}
        (src / "manifest.json").write_text(json.dumps({"source": name, "files": files}))
        (src / "ATTRIBUTION.md").write_text("credits\n")
    return root


def test_pack_holds_every_train_file_and_decodes_within_tolerance(corpus, tmp_path):
    dest = tmp_path / "pack"
    s = pack_corpus(corpus, dest, 2**20, ("train",), quality=90, log=lambda _m: None)
    assert s["sources"]["openmoji"]["kept"] == {"train": 3, "val": 0, "test": 0}
    assert s["sources"]["naev"]["kept"]["train"] == 3 and s["color_quality"] == 90
    assert s["sources"]["openmoji"]["lossless_color"] == 3 and s["sources"]["naev"]["lossless_color"] == 0
    for name in ("openmoji", "naev"):
        m = json.loads((dest / name / "manifest.json").read_text())
        assert sorted(m["files"]) == ["d0", "d1", "d2"] and m["packed_from"] == "corpus"
        assert (dest / name / "ATTRIBUTION.md").is_file()
    for i in range(3):
        src = load_rgb(corpus / "openmoji" / "color" / f"d{i}.png")
        assert np.abs(load_rgb(dest / "openmoji" / "color" / f"d{i}.webp").astype(int) - src).max() <= 1
        line = np.asarray(Image.open(corpus / "openmoji" / "black" / f"d{i}.png"))
        packed = load_grey(dest / "openmoji" / "black" / f"d{i}.png")
        np.testing.assert_array_equal(packed, np.where(line < INK_BELOW, 0.0, 1.0))
        assert Image.open(dest / "openmoji" / "black" / f"d{i}.png").mode == "1"
        painting = load_rgb(corpus / "naev" / "color" / f"d{i}.png")
        assert _psnr(load_rgb(dest / "naev" / "color" / f"d{i}.webp"), painting) > 30
    assert not (dest / "naev" / "black").exists() and (dest / "pack.json").is_file()
    assert not (dest / pack.PROGRESS).exists()


def test_the_dataset_reads_a_pack_as_it_reads_the_corpus(corpus, tmp_path):
    dest = tmp_path / "pack"
    pack_corpus(corpus, dest, 2**20, ("train",), log=lambda _m: None)
    ds = CorpusPairs(dest, "train", size=32, seed=0, line_methods={"xdog": 1.0}, extract_prob=0.0)
    assert len(ds) == 6 and ds.sources["openmoji"].color_ext == ".webp"
    for i in range(6):
        s = ds[i]
        assert s["line"].shape == (1, 32, 32) and s["color"].shape == (3, 32, 32)


def test_a_tight_budget_lowers_the_lossy_quality_and_an_impossible_one_fails(corpus, tmp_path):
    free = pack_corpus(corpus, tmp_path / "a", 2**20, ("train",), quality=95, log=lambda _m: None)
    tight = pack_corpus(corpus, tmp_path / "b", free["bytes"] - 1, ("train",), quality=95, log=lambda _m: None)
    assert tight["color_quality"] < 95 and tight["bytes"] <= free["bytes"] - 1
    with pytest.raises(PrepareError, match="over --max-mib"):
        pack_corpus(corpus, tmp_path / "c", 1000, ("train",), log=lambda _m: None)


def test_an_interrupted_pack_resumes_without_encoding_again(corpus, tmp_path, monkeypatch):
    dest = tmp_path / "pack"
    pack_corpus(corpus, dest, 2**20, ("train", "val"), log=lambda _m: None)
    packed = sorted(p.relative_to(dest) for p in dest.rglob("*") if p.is_file())
    # Simulate a kill after the files were written: the progress is back, pack.json gone, a temp left.
    key = {"corpus": "corpus", "splits": ["train", "val"], "counts": {"naev": 4, "openmoji": 4}}
    files = {f"{s}/d{i}": {"color": "lossless" if s == "openmoji" else "q90", "color_bytes": 1, "black": "1bit"}
             for s in ("openmoji", "naev") for i in range(4)}
    pack._save_progress(dest, key, files, 90)
    (dest / "pack.json").unlink()
    (dest / "naev" / "color" / ".d0.webp.x.tmp").write_bytes(b"partial")
    calls = []
    monkeypatch.setattr(pack, "_encode_one", lambda job: calls.append(job))
    pack_corpus(corpus, dest, 2**20, ("train", "val"), log=lambda _m: None)
    assert calls == [] and (dest / "pack.json").is_file()
    assert sorted(p.relative_to(dest) for p in dest.rglob("*") if p.is_file()) == packed
