import json
import warnings

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from irodori.config import DataConfig
from irodori.data import (Danbooru2019, IllustrationFolder, OpenMojiPairs, SyntheticShapes, build_dataset,
                          hash_split, load_rgb)
from irodori.errors import ConfigError, InputError

OFFLINE = {"xdog": 0.5, "morph": 0.5}
SPEC = dict(line_methods=OFFLINE)


def check_sample(sample, size):
    assert set(sample) == {"line", "hint", "mask", "color", "region"}
    shapes = {"line": (1, size, size), "hint": (3, size, size), "mask": (1, size, size), "color": (3, size, size)}
    for key, shape in shapes.items():
        t = sample[key]
        assert isinstance(t, torch.Tensor) and t.dtype == torch.float32, key
        assert tuple(t.shape) == shape, key
        assert t.is_contiguous(), key
        assert torch.isfinite(t).all(), key
    for key in ("line", "hint", "color"):
        assert sample[key].min() >= -1 and sample[key].max() <= 1, key
    mask = sample["mask"]
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    assert (sample["hint"] * (1 - mask) == 0).all(), "hint is 0 where there is no hint"
    assert (sample["line"] > 0.8).float().mean() > 0.5, "line art is mostly white paper"


def assert_same(a, b):
    for key in a:
        assert torch.equal(a[key], b[key]), key


# ---------------------------------------------------------------------------
# SyntheticShapes and the determinism contract


def test_synthetic_shapes_and_determinism():
    ds = SyntheticShapes(n=6, size=32, seed=3, **SPEC)
    assert len(ds) == 6
    for i in range(len(ds)):
        check_sample(ds[i], 32)
    assert_same(ds[2], ds[2])
    assert_same(ds[2], ds[(0, 2)])
    assert_same(ds[-1], ds[5])
    # the contract: all randomness of the item comes from default_rng([seed, epoch, index])
    assert_same(ds[(4, 1)], ds.sample(1, np.random.default_rng([3, 4, 1])))
    assert not torch.equal(ds[(0, 1)]["color"], ds[(1, 1)]["color"])
    assert not torch.equal(ds[1]["color"], SyntheticShapes(n=6, size=32, seed=4, **SPEC)[1]["color"])
    assert not torch.equal(ds[1]["color"], SyntheticShapes(n=6, size=32, seed=3, split="val", **SPEC)[1]["color"])
    with pytest.raises(IndexError):
        ds[6]
    with pytest.raises(IndexError):
        ds[(-1, 0)]


def test_same_samples_through_dataloader_workers():
    ds = SyntheticShapes(n=4, size=32, seed=0, **SPEC)
    keys = [(1, 3), (0, 0), (2, 1), (1, 3)]
    loader = torch.utils.data.DataLoader(ds, batch_size=2, sampler=keys, num_workers=2)
    batches = list(loader)
    for b, pair in zip(batches, (keys[:2], keys[2:])):
        for j, key in enumerate(pair):
            for k, v in ds[key].items():
                assert torch.equal(b[k][j], v)


def test_strokes_mixed_in():
    ds = SyntheticShapes(n=4, size=64, seed=0, stroke_prob=1.0, **SPEC)
    plain = SyntheticShapes(n=4, size=64, seed=0, **SPEC)
    for i in range(4):
        check_sample(ds[i], 64)
        assert ds[i]["mask"].sum() > plain[i]["mask"].sum()


def test_paper_mixture_is_refused_at_construction():
    with pytest.raises(ConfigError, match="sketchkeras"):
        SyntheticShapes(n=2, size=32)


# ---------------------------------------------------------------------------
# IllustrationFolder and image modes


@pytest.fixture
def image_folder(tmp_path):
    root = tmp_path / "images"
    (root / "sub" / "deeper").mkdir(parents=True)
    rgba = np.zeros((40, 50, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:20, :, 3] = 255  # top half opaque red, bottom half transparent
    Image.fromarray(rgba, "RGBA").save(root / "rgba.png")
    pal = Image.new("P", (36, 36))
    pal.putpalette([0, 0, 255, 0, 255, 0] + [0] * 762)
    pal.paste(1, (0, 0, 18, 36))
    pal.save(root / "sub" / "palette.png", transparency=0)  # index 0 (blue) transparent
    grey16 = np.full((40, 40), 32768, np.uint16)
    grey16[:, :20] = 65535
    Image.fromarray(grey16).save(root / "sub" / "grey16.png")
    Image.fromarray(np.full((33, 33), 60, np.uint8), "L").save(root / "sub" / "deeper" / "grey.jpg")
    bgr16 = np.zeros((40, 40, 3), np.uint16)
    bgr16[..., 2] = 65535  # red, in OpenCV's BGR order
    cv2.imwrite(str(root / "rgb16.png"), bgr16)
    Image.fromarray(np.full((24, 20, 3), 77, np.uint8)).save(root / "small.webp")
    (root / "notes.txt").write_text("not an image")
    return root


def test_load_rgb_modes(image_folder):
    rgba = load_rgb(image_folder / "rgba.png")
    assert rgba.dtype == np.uint8 and rgba.shape == (40, 50, 3)
    assert (rgba[:20] == (255, 0, 0)).all() and (rgba[20:] == 255).all()
    pal = load_rgb(image_folder / "sub" / "palette.png")
    assert (pal[:, :18] == (0, 255, 0)).all() and (pal[:, 18:] == 255).all()
    g16 = load_rgb(image_folder / "sub" / "grey16.png")
    assert (g16[:, :20] == 255).all() and (g16[:, 20:] == 128).all()
    assert abs(int(load_rgb(image_folder / "sub" / "deeper" / "grey.jpg").mean()) - 60) <= 2
    rgb16 = load_rgb(image_folder / "rgb16.png")
    assert (rgb16 == (255, 0, 0)).all()
    with pytest.raises(InputError):
        load_rgb(image_folder / "notes.txt")


def test_folder_dataset(image_folder):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = IllustrationFolder(image_folder, size=32, seed=0, **SPEC)
    assert len(ds) == 6
    for i in range(len(ds)):
        check_sample(ds[i], 32)
    assert_same(ds[(2, 3)], ds[(2, 3)])
    parts = [IllustrationFolder(image_folder, size=32, split=s, **SPEC).paths
             for s in ("train", "val", "test") if _split_nonempty(image_folder, s)]
    assert sorted(p for part in parts for p in part) == sorted(ds.paths)


def _split_nonempty(root, split):
    return any(hash_split(p.relative_to(root).as_posix()) == split
               for p in root.rglob("*") if p.suffix in (".png", ".jpg", ".webp"))


def test_corrupt_images_are_skipped_with_one_warning(image_folder):
    (image_folder / "broken.png").write_bytes(b"\x89PNG but not really")
    (image_folder / "sub" / "broken.jpg").write_bytes(b"")
    with pytest.warns(UserWarning, match="skipped 2 unreadable"):
        ds = IllustrationFolder(image_folder, size=32, **SPEC)
    assert len(ds) == 6


def test_truncated_image_is_replaced_at_load(tmp_path):
    root = tmp_path / "imgs"
    root.mkdir()
    img = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(img).save(root / "a.png")
    Image.fromarray(img).save(root / "b.png")
    data = (root / "b.png").read_bytes()
    (root / "b.png").write_bytes(data[: len(data) // 2])  # header fine, pixels missing
    ds = IllustrationFolder(root, size=32, **SPEC)
    assert len(ds) == 2
    with pytest.warns(UserWarning, match="using another image"):
        sample = ds[1]
    check_sample(sample, 32)


def test_empty_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no readable images"):
        IllustrationFolder(tmp_path, size=32, **SPEC)
    with pytest.raises(InputError, match="not found"):
        IllustrationFolder(tmp_path / "missing", size=32, **SPEC)


# ---------------------------------------------------------------------------
# Danbooru2019


@pytest.fixture
def danbooru(tmp_path):
    root = tmp_path / "danbooru2019"
    rng = np.random.default_rng(0)
    records = []
    for i in range(1000, 1040):
        tags = [{"id": "1", "name": "1girl", "category": "0"}]
        if i % 10 == 3:
            tags.append({"id": "2", "name": "greyscale", "category": "0"})
        if i % 10 == 7:
            tags.append({"id": "3", "name": "monochrome", "category": "0"})
        records.append({"id": str(i), "tags": tags, "rating": "s"})
        if i == 1039:
            continue  # listed in the metadata, no file
        folder = root / "512px" / f"{i % 1000:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)).save(folder / f"{i}.jpg")
    (root / "512px" / "0000" / "999.jpg").write_bytes(b"")  # a file the metadata does not list
    (root / "metadata").mkdir()
    lines = [json.dumps(r) for r in records]
    (root / "metadata" / "2019000000000000").write_text("\n".join(lines[:20]) + "\n")
    (root / "metadata" / "2019000000000001").write_text("\n".join(lines[20:]) + "\n\n")
    return root


def test_danbooru_filters_and_splits(danbooru):
    ds = Danbooru2019(danbooru, split="all", size=32, **SPEC)
    expected = [str(i) for i in range(1000, 1039) if i % 10 not in (3, 7)]
    assert ds.ids == expected
    assert ds.num_dropped == 8
    check_sample(ds[0], 32)
    assert_same(ds[(1, 4)], ds[(1, 4)])
    for split in ("train", "val", "test"):
        want = [i for i in expected if hash_split(i, buckets=100) == split]
        if want:
            assert Danbooru2019(danbooru, danbooru / "metadata", split, size=32, **SPEC).ids == want
        else:
            with pytest.raises(InputError, match="no Danbooru images"):
                Danbooru2019(danbooru, danbooru / "metadata", split, size=32, **SPEC)


def test_danbooru_errors(danbooru, tmp_path):
    with pytest.raises(InputError, match="512px"):
        Danbooru2019(tmp_path / "nowhere", size=32, **SPEC)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json}\n")
    with pytest.raises(InputError, match="not a Danbooru metadata record"):
        Danbooru2019(danbooru, bad, size=32, **SPEC)


# ---------------------------------------------------------------------------
# OpenMoji pairs


@pytest.fixture
def openmoji_dir(tmp_path):
    """A prepared directory: color = red left half / blue right half; black = a line on the boundary."""
    root = tmp_path / "openmoji"
    (root / "color").mkdir(parents=True)
    (root / "black").mkdir()
    files = {}
    for k, (name, split) in enumerate([("1F600", "train"), ("1F601", "train"), ("1F602", "val")]):
        color = np.zeros((64, 64, 3), np.uint8)
        edge = 24 + 4 * k
        color[:, :edge] = (220, 30, 30)
        color[:, edge:] = (30, 30, 220)
        black = np.full((64, 64), 255, np.uint8)
        black[:, edge - 1:edge + 1] = 0
        Image.fromarray(color).save(root / "color" / f"{name}.png")
        Image.fromarray(black, "L").save(root / "black" / f"{name}.png")
        files[name] = {"split": split, "group": name, "category": "smileys-emotion"}
    (root / "manifest.json").write_text(json.dumps({"size": 64, "files": files}))
    return root


def test_openmoji_pairs(openmoji_dir):
    ds = OpenMojiPairs(openmoji_dir, "train", size=32, seed=1, **SPEC)
    assert len(ds) == 2 and len(OpenMojiPairs(openmoji_dir, "val", size=32, **SPEC)) == 1
    for epoch in range(5):
        for i in range(2):
            s = ds[(epoch, i)]
            check_sample(s, 32)
            # same crop and flip on both: the dark line sits where red meets blue
            line_col = int(s["line"][0].mean(0).argmin())
            red = (s["color"][0] > s["color"][2]).float().mean(0)
            boundary = int(torch.nonzero((red[1:] - red[:-1]).abs() > 0.5)[0])
            assert abs(line_col - boundary) <= 1
    assert_same(ds[(3, 1)], ds[(3, 1)])


def test_openmoji_extracted_line_art(openmoji_dir):
    ds = OpenMojiPairs(openmoji_dir, "train", size=32, extract_prob=1.0, line_methods={"morph": 1.0})
    real = OpenMojiPairs(openmoji_dir, "train", size=32, extract_prob=0.0, line_methods={"morph": 1.0})
    s, r = ds[0], real[0]
    check_sample(s, 32)
    assert torch.equal(s["color"], r["color"])  # same crop either way
    assert not torch.equal(s["line"], r["line"])


def test_openmoji_missing_manifest(tmp_path):
    with pytest.raises(InputError, match="irodori prepare openmoji"):
        OpenMojiPairs(tmp_path, "train", size=32, **SPEC)


# ---------------------------------------------------------------------------
# build_dataset


def test_build_dataset_dispatch(openmoji_dir, image_folder, danbooru):
    cfg = DataConfig(dataset="synthetic", size=32, line_methods=OFFLINE)
    ds = build_dataset(cfg, seed=5)
    assert isinstance(ds, SyntheticShapes) and ds.seed == 5 and len(ds) == 256
    check_sample(ds[0], 32)
    om = build_dataset(DataConfig(dataset="openmoji", root=str(openmoji_dir), size=32, line_methods=OFFLINE,
                                  extract_prob=0.5), split="val")
    assert isinstance(om, OpenMojiPairs) and len(om) == 1 and om.extract_prob == 0.5
    folder = build_dataset(DataConfig(dataset="folder", root=str(image_folder), size=32, line_methods=OFFLINE),
                           split="all")
    assert isinstance(folder, IllustrationFolder) and len(folder) == 6
    db = build_dataset(DataConfig(dataset="danbooru", root=str(danbooru), size=32, line_methods=OFFLINE),
                       split="all")
    assert isinstance(db, Danbooru2019)


def test_build_dataset_checks_methods_first(tmp_path):
    with pytest.raises(ConfigError, match="cannot run"):
        build_dataset(DataConfig(dataset="openmoji", root=str(tmp_path)))
    with pytest.raises(ConfigError, match="data.root"):
        build_dataset(DataConfig(dataset="folder", line_methods=OFFLINE))
    with pytest.raises(ConfigError, match="split"):
        build_dataset(DataConfig(dataset="synthetic", size=32, line_methods=OFFLINE), split="dev")


# ---------------------------------------------------------------------------
# make_sample: region scribbles, line-style augmentation, clean white backgrounds


def _white_background_pair(size=96):
    color = np.full((size, size, 3), 255, np.uint8)
    cv2.circle(color, (size // 2, size // 2), size // 4, (220, 40, 40), -1)
    line = np.ones((size, size), np.float32)
    cv2.circle(line, (size // 2, size // 2), size // 4, 0.0, 2)
    return color, line


def test_white_background_target_stays_white_through_the_sample_path():
    from irodori.data import SampleSpec, make_sample, random_scaled_crop

    color, line = _white_background_pair()
    drawing = cv2.dilate((color.min(-1) < 255).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    spec = SampleSpec(size=64, line_methods=OFFLINE, scribble_prob=1.0, line_aug=1.0)
    for seed in range(6):
        rng = np.random.default_rng(seed)
        c, l, d = random_scaled_crop([color, line, drawing.astype(np.float32)], 64, rng)
        s = make_sample(c, rng, spec, line=l)
        check_sample(s, 64)
        outside = torch.from_numpy(cv2.dilate((d > 0).astype(np.uint8), np.ones((5, 5), np.uint8)) == 0)
        assert outside.any() and (s["color"][:, outside] == 1.0).all()


def test_scribble_and_line_aug_options_mix_in_and_zero_draws_nothing_extra():
    from irodori.data import SampleSpec, make_sample

    color, line = _white_background_pair(64)
    base = make_sample(color, np.random.default_rng(5), SampleSpec(size=64, line_methods=OFFLINE), line=line)
    zero = make_sample(color, np.random.default_rng(5), SampleSpec(size=64, line_methods=OFFLINE,
                                                                   scribble_prob=0.0, line_aug=0.0), line=line)
    assert_same(base, zero)
    big_color, big_line = _white_background_pair(128)
    spec = SampleSpec(size=128, line_methods=OFFLINE, scribble_prob=1.0)
    masks = [make_sample(big_color, np.random.default_rng(s), spec, line=big_line)["mask"][0] for s in range(10)]
    blocks = [m.reshape(64, 2, 64, 2) for m in masks]  # region hints: 2x2 px cells of the 64x64 grid at 128 px
    assert all(torch.equal(b, b[:, :1, :, :1].expand_as(b)) for b in blocks) and any(m.sum() > 0 for m in masks)
    spec = SampleSpec(size=64, line_methods=OFFLINE, line_aug=1.0)
    lines = [make_sample(color, np.random.default_rng(s), spec, line=line)["line"] for s in range(4)]
    assert any(not torch.equal(x, torch.from_numpy(line * 2 - 1)[None]) for x in lines)


def test_data_config_passes_scribble_and_line_aug_to_every_dataset():
    ds = build_dataset(DataConfig(dataset="synthetic", size=32, line_methods=OFFLINE, scribble_prob=0.5, line_aug=0.25))
    assert (ds.spec.scribble_prob, ds.spec.line_aug) == (0.5, 0.25)
    with pytest.raises(ConfigError, match="scribble_prob"):
        DataConfig(scribble_prob=1.5)
