import json

import numpy as np
import pytest
import torch
from PIL import Image

from irodori.cli import main
from irodori.config import DataConfig
from irodori.data import build_dataset
from irodori.data.corpus import CorpusPairs
from irodori.data.sources import dedupe_corpus
from irodori.data.sources.common import on_white, pad_square, split_of
from irodori.data.sources.dedup import dhash
from irodori.data.sources.dicebear import plan_image, style_licence
from irodori.data.sources.openclipart import group_key, judge, list_drawings, prepare_openclipart
from irodori.data.sources.portraits import licence_of, parse_dep5, prepare_portraits
from irodori.data.sources.vector import line_art_svg, pair_score, render_rgba

SPEC = dict(line_methods={"xdog": 1.0}, hint_p=0.5)

# A light square with a black stroke, a red disc without outline, and a thin black filled bar.
THREE_SHAPES = """<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">
  <g style="fill:#f0c080">
    <rect x="8" y="8" width="30" height="30" stroke="#000" stroke-width="3"/>
  </g>
  <circle cx="44" cy="44" r="12" fill="#d22f27"/>
  <path d="M4 58 L60 58 L60 60 L4 60 Z" style="fill:#101010"/>
</svg>"""

OUTLINED = """<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">
  <circle cx="32" cy="32" r="20" fill="{fill}" stroke="#000000" stroke-width="3"/>
  <rect x="26" y="26" width="12" height="12" fill="#3060c0" stroke="#000" stroke-width="2"/>
</svg>"""

NO_OUTLINE = """<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">
  <circle cx="32" cy="32" r="20" fill="#e0a020"/>
  <rect x="26" y="26" width="12" height="12" fill="#3060c0"/>
</svg>"""


def _render(svg, size=64):
    color = on_white(render_rgba(svg, width=size))
    line = on_white(render_rgba(line_art_svg(svg)[0], width=size)).min(axis=2)
    return color, line


def test_outline_shapes_stay_black_and_other_paints_turn_white():
    svg, counts = line_art_svg(THREE_SHAPES)
    assert counts == {"ink_fill": 1, "ink_stroke": 1, "white": 2}
    color, line = _render(THREE_SHAPES)
    assert line[8, 20] < 64  # the rectangle's stroke (inherited fill, own stroke)
    assert line[23, 23] > 240  # its light fill
    assert line[44, 44] > 240 and tuple(color[44, 44]) != (255, 255, 255)  # the red disc: colour only
    assert line[59, 30] < 64  # the thin dark bar is ink


def test_pair_scoring_rejects_a_drawing_without_outlines():
    color, line = _render(NO_OUTLINE)
    assert pair_score(color, line) == 0.0 and not judge(color, line)[0]
    color, line = _render(OUTLINED.format(fill="#e0a020"))
    keep, score, ink = judge(color, line)
    assert keep and score > 0.9 and 0.01 < ink < 0.4


def _fake_openclipart(root):
    svg_dir = root / "usr/share/openclipart/svg"
    (svg_dir / "people").mkdir(parents=True)
    (svg_dir / "animals").mkdir(parents=True)
    (svg_dir / "people" / "donna_01.svg").write_text(OUTLINED.format(fill="#e0a020"))
    (svg_dir / "people" / "donna_02.svg").write_text(OUTLINED.format(fill="#20a0e0"))
    (svg_dir / "animals" / "blob.svg").write_text(NO_OUTLINE)
    (svg_dir / "animals" / "broken.svg").write_text("<svg")
    return root


def test_split_by_group_is_deterministic_and_shared_by_variants(tmp_path):
    assert group_key("people", "Donna_01") == group_key("people", "donna-02") == "people/donna"
    drawings = list_drawings(_fake_openclipart(tmp_path) / "usr/share/openclipart/svg")
    assert drawings["people__donna_01"]["group"] == drawings["people__donna_02"]["group"]
    assert split_of("people/donna") == split_of("people/donna")
    splits = {split_of(f"g{i}") for i in range(200)}
    assert splits == {"train", "val", "test"}


def test_rerun_skips_finished_and_rejected_files(tmp_path):
    src = _fake_openclipart(tmp_path / "pkg")
    out = tmp_path / "corpus" / "openclipart"
    first = prepare_openclipart(out, size=48, source=src, progress=False)
    m = first.manifest
    assert sorted(m["files"]) == ["people__donna_01", "people__donna_02"]
    assert set(m["rejected"]) == {"animals__blob", "animals__broken"} and first.written == 2
    rec = m["files"]["people__donna_01"]
    assert rec["split"] == m["files"]["people__donna_02"]["split"] == split_of("people/donna")
    assert rec["origin"] == "usr/share/openclipart/svg/people/donna_01.svg" and rec["licence"] == "public domain"
    assert Image.open(out / "color" / "people__donna_01.png").mode == "RGB"
    assert Image.open(out / "black" / "people__donna_01.png").mode == "L"
    assert "public domain" in (out / "ATTRIBUTION.md").read_text()
    second = prepare_openclipart(out, size=48, source=src, progress=False)
    assert (second.written, second.skipped) == (0, 2) and second.manifest["counts"] == m["counts"]


def _write_source(root, name, images, split, paired=True):
    out = root / name
    (out / "color").mkdir(parents=True)
    if paired:
        (out / "black").mkdir()
    files = {}
    for stem, image in images.items():
        Image.fromarray(image).save(out / "color" / f"{stem}.png")
        if paired:
            Image.fromarray(image.min(axis=2)).save(out / "black" / f"{stem}.png")
        files[stem] = {"split": split, "group": stem, "origin": stem, "licence": "x", "attribution": "x"}
    (out / "manifest.json").write_text(json.dumps({"source": name, "licence": "x", "files": files}))


def _drawing(seed, size=40):
    rng = np.random.default_rng(seed)
    img = np.full((size, size, 3), 255, np.uint8)
    for _ in range(4):
        y, x = rng.integers(0, size - 10, 2)
        img[y:y + 10, x:x + 10] = rng.integers(0, 255, 3)
    return img


def test_near_duplicate_across_splits_is_dropped_from_test(tmp_path):
    a, b = _drawing(1), _drawing(2)
    near_a = a.copy()
    near_a[0, 0] = (250, 250, 250)
    _write_source(tmp_path, "openclipart", {"a": a, "b": b}, "train")
    _write_source(tmp_path, "naev", {"copy": near_a, "other": _drawing(3)}, "test", paired=False)
    summary = dedupe_corpus(tmp_path)
    naev = json.loads((tmp_path / "naev" / "manifest.json").read_text())
    assert naev["files"]["copy"]["duplicate_of"] == "openclipart/a"
    assert "duplicate_of" not in naev["files"]["other"] and naev["counts"]["test"] == 1
    assert summary["sources"]["openclipart"]["train"] == 2
    assert [d["dropped"] for d in summary["near_duplicates"]["dropped"]] == ["naev/copy"]
    assert json.loads((tmp_path / "corpus.json").read_text())["total"]["test"] == 1
    assert dhash(a) == dhash(near_a) and dhash(a) != dhash(b)


@pytest.fixture
def corpus(tmp_path):
    _write_source(tmp_path, "openclipart", {f"p{i}": _drawing(i) for i in range(6)}, "train")
    _write_source(tmp_path, "wesnoth", {f"w{i}": _drawing(10 + i, 48) for i in range(3)}, "train", paired=False)
    _write_source(tmp_path, "naev", {"v0": _drawing(20)}, "val", paired=False)
    return tmp_path


def test_corpus_dataset_returns_openmoji_shaped_samples(corpus):
    ds = CorpusPairs(corpus, "train", size=32, seed=0, **SPEC)
    assert len(ds) == 9
    for k in range(4):
        s = ds[k]
        assert set(s) == {"line", "hint", "mask", "color", "region"}
        assert s["line"].shape == (1, 32, 32) and s["hint"].shape == (3, 32, 32)
        assert s["mask"].shape == s["region"].shape == (1, 32, 32) and s["color"].shape == (3, 32, 32)
        assert all(t.dtype == torch.float32 for t in s.values())
    assert torch.equal(ds[3]["color"], ds[3]["color"])
    val = CorpusPairs(corpus, "val", size=32, **SPEC)
    assert len(val) == 1 and val.pick(0, np.random.default_rng(0)) == ("naev", "v0")
    cfg = DataConfig(dataset="corpus", root=str(corpus), size=32, line_methods={"xdog": 1.0},
                     sources={"wesnoth": 1.0})
    assert isinstance(build_dataset(cfg, "train"), CorpusPairs)


def test_corpus_dataset_respects_source_weights(corpus):
    only = CorpusPairs(corpus, "train", size=32, sources={"wesnoth": 1.0, "openclipart": 0}, **SPEC)
    assert {only.pick(i, np.random.default_rng(i))[0] for i in range(50)} == {"wesnoth"}
    mixed = CorpusPairs(corpus, "train", size=32, sources={"wesnoth": 3.0, "openclipart": 1.0}, **SPEC)
    picks = [mixed.pick(i, np.random.default_rng(i))[0] for i in range(800)]
    assert 0.68 < picks.count("wesnoth") / len(picks) < 0.82
    default = CorpusPairs(corpus, "train", size=32, **SPEC)
    assert default.weights == pytest.approx({"openclipart": 6 / 9, "wesnoth": 3 / 9})
    from irodori.errors import ConfigError
    with pytest.raises(ConfigError, match="naev"):
        CorpusPairs(corpus, "train", size=32, sources={"naev": 1.0}, **SPEC)


def test_bad_source_gives_one_line_and_exit_code_2(tmp_path, capsys):
    for name in ("openclipart", "wesnoth", "dicebear", "all"):
        assert main(["prepare", name, "--out", str(tmp_path / "o"), "--source", str(tmp_path / "nope"),
                     "--quiet"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "nope" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["prepare", "naev", "--out", str(tmp_path / "o"), "--source", str(empty), "--quiet"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_portraits_are_composited_on_white_with_their_file_licence(tmp_path):
    portraits = tmp_path / "pkg/usr/share/naev/dat/gfx/portraits/pirate"
    portraits.mkdir(parents=True)
    rgba = np.zeros((30, 20, 4), np.uint8)
    rgba[5:25, 5:15] = (200, 40, 40, 255)
    Image.fromarray(rgba, "RGBA").save(portraits / "pirate1.png")
    Image.fromarray(rgba, "RGBA").save(portraits.parent / "none.png")
    doc = tmp_path / "pkg/usr/share/doc/naev-data"
    doc.mkdir(parents=True)
    doc.joinpath("copyright").write_text("Files: *\nCopyright: Someone\nLicense: GPL-3+\n\n"
                                         "Files: ./dat/gfx/portraits/pirate/pirate1.png\nCopyright: Ingo\n"
                                         "License: GPL-3\n")
    r = prepare_portraits("naev", tmp_path / "out", size=32, source=tmp_path / "pkg", progress=False)
    assert list(r.manifest["files"]) == ["pirate_pirate1"]
    assert r.manifest["files"]["pirate_pirate1"]["licence"] == "GPL-3"
    color = np.asarray(Image.open(tmp_path / "out" / "color" / "pirate_pirate1.png"))
    assert color.shape == (32, 32, 3) and tuple(color[0, 0]) == (255, 255, 255)
    assert tuple(color[16, 16]) == (200, 40, 40)
    assert licence_of("dat/other.png", parse_dep5(doc.joinpath("copyright").read_text()))[0] == "GPL-3+"


def test_dicebear_plans_are_deterministic_and_licences_read_from_the_package(tmp_path):
    assert plan_image(7) == plan_image(7) and plan_image(7) != plan_image(8)
    assert all(1 <= len(plan_image(i)) <= 3 for i in range(20))
    (tmp_path / "LICENSE").write_text("Licenses\n\n# Design\nSource: Thing (https://x)\nDesigner: Ann\n"
                                      "License: CC0 1.0 (https://cc0)\n\n# Code\nMIT License\n")
    assert style_licence(tmp_path) == {"licence": "CC0 1.0 (https://cc0)", "designer": "Ann",
                                       "source": "Thing (https://x)"}


def test_pad_square_keeps_the_aspect_on_white():
    img = np.zeros((10, 40, 3), np.uint8)
    out = pad_square(img, 20)
    assert out.shape == (20, 20, 3) and out[0, 0, 0] == 255 and out[10, 10, 0] == 0


def _fake_dicebear(root):
    from irodori.data.sources.dicebear import STYLES

    core = root / "dicebear-core" / "package"
    (core / "lib").mkdir(parents=True)
    (core / "package.json").write_text('{"name": "@dicebear/core", "type": "module"}')
    (core / "lib" / "index.js").write_text(
        "export function createAvatar(style, options) {\n"
        "  const body = style.create(options);\n"
        "  return { toString: () => `<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"64\" height=\"64\">${body}</svg>` };\n"
        "}\n")
    for name in STYLES:
        pkg = root / f"dicebear-{name}" / "package"
        (pkg / "lib").mkdir(parents=True)
        (pkg / "package.json").write_text(f'{{"name": "@dicebear/{name}", "type": "module"}}')
        (pkg / "LICENSE").write_text(f"# Design\nSource: {name}\nDesigner: Tester\nLicense: CC0 1.0\n\n# Code\nMIT\n")
        (pkg / "lib" / "index.js").write_text(
            "export const create = (o) => '<circle cx=\"32\" cy=\"32\" r=\"26\" fill=\"#e0a020\" "
            "stroke=\"#000\" stroke-width=\"3\"/><rect x=\"24\" y=\"24\" width=\"16\" height=\"10\" "
            "fill=\"#3060c0\" stroke=\"#000\" stroke-width=\"2\"/>';\n")
    return root


@pytest.mark.skipif(__import__("shutil").which("node") is None, reason="needs node")
def test_dicebear_heads_are_drawn_by_node_and_composed_into_pairs(tmp_path):
    from irodori.data.sources.dicebear import prepare_dicebear

    src = _fake_dicebear(tmp_path / "npm")
    out = tmp_path / "corpus" / "dicebear"
    r = prepare_dicebear(out, size=48, source=src, limit=4, batch=4, progress=False)
    assert len(r.manifest["files"]) == 4 and r.written >= 4
    rec = next(iter(r.manifest["files"].values()))
    assert rec["licence"] == "CC0 1.0" and "Tester" in rec["attribution"] and rec["split"] == split_of(rec["group"])
    name = next(iter(r.manifest["files"]))
    assert Image.open(out / "black" / f"{name}.png").size == (48, 48)
    again = prepare_dicebear(out, size=48, source=src, limit=4, batch=4, progress=False)
    assert again.written == 0 and again.manifest["files"] == r.manifest["files"]


def test_near_duplicate_clusters_keep_the_train_copy_and_ignore_variants_of_one_drawing():
    from irodori.data.sources.dedup import choose_drops

    items = [{"source": "a", "group": "g1", "split": "test"}, {"source": "a", "group": "g2", "split": "val"},
             {"source": "b", "group": "g3", "split": "train"}, {"source": "a", "group": "g4", "split": "train"},
             {"source": "a", "group": "g4", "split": "train"}]
    drops = choose_drops(items, [(0, 1, 0), (1, 2, 3), (3, 4, 0)])
    assert drops == {0: (2, "across splits"), 1: (2, "across splits")}


def _pair(fill=(200, 60, 40), size=64):
    """A filled, outlined square on white and its line art."""
    color = np.full((size, size, 3), 255, np.uint8)
    color[16:48, 16:48] = fill
    line = np.full((size, size), 255, np.uint8)
    line[16:48, 16:18] = line[16:48, 46:48] = line[16:18, 16:48] = line[46:48, 16:48] = 0
    color[line == 0] = 0
    return color, line


def test_pair_checks_name_each_way_a_pair_teaches_the_wrong_thing():
    from irodori.data.sources.quality import check_pair
    color, line = _pair()
    assert check_pair(color, line) is None and check_pair(color, None) is None
    assert check_pair(color, np.full_like(line, 255)) == "empty line art"
    ghost = line.copy()
    ghost[4:12, 4:60] = 0  # ink where the colour image is paper white
    ghost[52:60, 4:60] = 0
    assert check_pair(color, ghost) == "ink on white"
    assert check_pair(_pair(fill=(128, 128, 128))[0], line) == "colourless"
    panel = np.zeros((64, 64, 3), np.uint8)
    panel[20:44, 20:44] = (230, 200, 40)  # a yellow flower on a black panel filling the image
    assert check_pair(panel, None) == "black background"


def test_cleaning_excludes_bad_pairs_and_drops_drawings_that_share_their_line_art(tmp_path):
    red, line = _pair((200, 60, 40))
    blue, _ = _pair((40, 60, 200))
    grey, _ = _pair((128, 128, 128))
    _write_source(tmp_path, "openclipart", {"red": red, "grey": grey}, "train")
    _write_source(tmp_path, "dicebear", {"blue": blue}, "test")
    for name in ("red", "grey"):  # every pair shares one line art (the helper writes the colour's min)
        Image.fromarray(line).save(tmp_path / "openclipart" / "black" / f"{name}.png")
    Image.fromarray(line).save(tmp_path / "dicebear" / "black" / "blue.png")
    summary = dedupe_corpus(tmp_path)
    oc = json.loads((tmp_path / "openclipart" / "manifest.json").read_text())["files"]
    db = json.loads((tmp_path / "dicebear" / "manifest.json").read_text())["files"]
    assert oc["grey"]["excluded"] == "colourless" and "duplicate_of" not in oc["red"]
    assert db["blue"]["duplicate_of"] == "openclipart/red"  # another colouring of a training drawing
    assert summary["total"] == {"train": 1, "val": 0, "test": 0}
    assert [e["file"] for e in summary["excluded"]["files"]] == ["openclipart/grey"]
    assert CorpusPairs(tmp_path, "train", size=32, **SPEC).items == [("openclipart", "red")]


def test_a_portraits_moods_and_numbered_variants_share_one_split_group():
    from irodori.data.sources.portraits import character_group
    assert character_group("wesnoth", "haldric-annoyed") == character_group("wesnoth", "Haldric-surprised")
    assert character_group("wesnoth", "kai_krellis2") == "wesnoth/kai_krellis"
    assert character_group("naev", "dv_civilian_f1") == character_group("naev", "dv_civilian_f11")
    assert character_group("naev", "dv_civilian_m1") != character_group("naev", "dv_civilian_f1")
    assert character_group("naev", "2") == "naev/2"


def test_an_openclipart_drawings_artist_is_read_from_its_svg_metadata():
    from irodori.data.sources.openclipart import svg_artist
    meta = ('<svg><metadata><rdf:RDF><cc:Work><dc:title>Hat</dc:title><dc:creator><cc:Agent>'
            '<dc:title> Nicu Buculei </dc:title></cc:Agent></dc:creator></cc:Work></rdf:RDF></metadata></svg>')
    assert svg_artist(meta) == "Nicu Buculei"
    assert svg_artist('<svg><dc:title>Hat</dc:title></svg>') is None
