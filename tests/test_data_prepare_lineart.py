"""``irodori prepare lineart``: layouts, sharding by RANK / WORLD_SIZE, resuming, atomic writes, the CLI."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from irodori.cli import main
from irodori.data.lineart import LEARNED_EXTRACTORS, LINE_EXTRACTORS
from irodori.errors import PrepareError
from irodori.data.prepare_lineart import plan, prepare_lineart, resize_short_side
from irodori.extractors import SketchKerasNet, extract_sketchkeras



@pytest.fixture(autouse=True)
def _no_weight_env(monkeypatch):
    for var in ("IRODORI_SKETCHKERAS", "IRODORI_SIMPLIFICATION"):
        monkeypatch.delenv(var, raising=False)


def _write(path, shape=(16, 24), seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = (np.random.default_rng(seed).random((*shape, 3)) * 255).astype(np.uint8)
    Image.fromarray(rgb).save(path)


@pytest.fixture
def openmoji_dir(tmp_path):
    d = tmp_path / "om"
    for i, name in enumerate(["1F600", "1F601", "1F602", "1F603", "1F604"]):
        _write(d / "color" / f"{name}.png", seed=i)
    (d / "black").mkdir()
    (d / "manifest.json").write_text("{}")
    return d


class Counting:
    """A fake extractor: records the images it saw, returns a gradient."""

    def __init__(self):
        self.calls = 0

    def __call__(self, image, rng):
        self.calls += 1
        h, w = image.shape[:2]
        return np.tile(np.linspace(0, 1, w, dtype=np.float32), (h, 1))


def test_sharded_and_resumable(openmoji_dir, monkeypatch):
    fake = Counting()
    out = openmoji_dir / "lineart-sketchkeras"
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    r1 = prepare_lineart(openmoji_dir, "sketchkeras", extractor=fake, progress=False)
    assert r1.out == out and (r1.rank, r1.world_size, r1.written, r1.skipped) == (1, 2, 2, 0)
    assert sorted(p.name for p in out.glob("*.png")) == ["1F601.png", "1F603.png"]  # files 1 and 3
    monkeypatch.setenv("RANK", "0")
    r0 = prepare_lineart(openmoji_dir, "sketchkeras", extractor=fake, progress=False)
    assert (r0.written, r0.skipped) == (3, 0) and fake.calls == 5
    assert len(list(out.glob("*.png"))) == 5 and not list(out.glob(".*"))  # no temp files left
    again = prepare_lineart(openmoji_dir, "sketchkeras", extractor=fake, progress=False)
    assert (again.written, again.skipped) == (0, 3) and fake.calls == 5
    (out / "1F602.png").unlink()  # an interrupted run: only the missing file is redone
    assert prepare_lineart(openmoji_dir, "sketchkeras", extractor=fake, progress=False).written == 1
    with Image.open(out / "1F600.png") as im:
        assert im.mode == "L" and im.size == (24, 16)
        line = np.asarray(im)
    assert line[0, 0] == 0 and line[0, -1] == 255
    assert json.loads((out / "lineart.json").read_text())["method"] == "sketchkeras"


def test_plain_folder_is_mirrored_and_resized(tmp_path):
    data = tmp_path / "art"
    _write(data / "a.jpg", (40, 60))
    _write(data / "sub" / "b.png", (30, 20), seed=1)
    (data / "notes.txt").write_text("not an image")
    r = prepare_lineart(data, "xdog", size=20, progress=False, rank=0, world_size=1)
    assert r.out == tmp_path / "art-lineart-xdog" and r.written == 2
    with Image.open(r.out / "a.png") as im:
        assert im.size == (30, 20)  # shorter side 20
    with Image.open(r.out / "sub" / "b.png") as im:
        assert im.size == (20, 30)
    first = np.asarray(Image.open(r.out / "a.png"))
    # Seeded per file: the same output whatever the sharding.
    r2 = prepare_lineart(data, "xdog", tmp_path / "again", size=20, progress=False, rank=1, world_size=2)
    assert r2.written == 1 and (tmp_path / "again" / "sub" / "b.png").exists()
    r3 = prepare_lineart(data, "xdog", tmp_path / "again", size=20, progress=False, rank=0, world_size=2)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "again" / "a.png")), first) and r3.written == 1
    with pytest.raises(PrepareError, match="other settings"):
        prepare_lineart(data, "morph", tmp_path / "again", size=20, progress=False)
    with pytest.raises(PrepareError, match="other settings"):
        prepare_lineart(data, "xdog", tmp_path / "again", size=32, progress=False)


def test_output_inside_the_data_folder_is_not_read_back(tmp_path):
    data = tmp_path / "art"
    _write(data / "a.png")
    prepare_lineart(data, "morph", data / "lines", progress=False, rank=0, world_size=1)
    pairs, _ = plan(data, "morph", data / "lines")
    assert [src.name for src, _ in pairs] == ["a.png"]


def test_name_collisions_and_bad_input(tmp_path, monkeypatch):
    data = tmp_path / "art"
    _write(data / "a.png")
    _write(data / "a.jpg")
    with pytest.raises(PrepareError, match="both be written"):
        plan(data, "xdog")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PrepareError, match="no images"):
        plan(tmp_path / "empty", "xdog")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(PrepareError, match="RANK"):
        prepare_lineart(data, "xdog", progress=False)


def test_random_weight_network_on_odd_sizes(tmp_path):
    data = tmp_path / "art"
    _write(data / "x.png", (37, 53))
    torch.manual_seed(0)
    net = SketchKerasNet(width_div=8).eval()
    r = prepare_lineart(data, "sketchkeras", progress=False, rank=0, world_size=1,
                        extractor=lambda image, rng: extract_sketchkeras(image, rng, net=net))
    with Image.open(r.out / "x.png") as im:
        assert im.size == (53, 37) and im.mode == "L"


def test_resize_short_side():
    rgb = np.zeros((40, 100, 3), np.uint8)
    assert resize_short_side(rgb, 20).shape == (20, 50, 3)
    assert resize_short_side(rgb, 80).shape == (80, 200, 3)
    assert resize_short_side(rgb, 40) is rgb


def test_cli_without_weights_names_the_command(openmoji_dir, capsys):
    assert main(["prepare", "lineart", "--data", str(openmoji_dir), "--method", "simplification", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "convert-weights simplification model_gan.pth" in err
    assert not (openmoji_dir / "lineart-simplification").exists()


def test_cli_with_converted_weights(openmoji_dir, tmp_path, monkeypatch, capsys):
    from irodori.weights import SKETCHKERAS, save_converted

    torch.manual_seed(0)
    net = SketchKerasNet(width_div=8)
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = save_converted(SKETCHKERAS, state, tmp_path / "sk.safetensors", {"width_div": 8, "bn_eps": 1e-3})
    monkeypatch.setenv("IRODORI_SKETCHKERAS", str(path))
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["prepare", "lineart", "--data", str(openmoji_dir), "--method", "sketchkeras", "--quiet",
                 "--device", "cpu"]) == 0
    assert "(rank 0 of 2): wrote 3, already done 0" in capsys.readouterr().out
    assert len(list((openmoji_dir / "lineart-sketchkeras").glob("*.png"))) == 3


def test_registries_are_separate():
    assert set(LINE_EXTRACTORS) == {"xdog", "morph"}
    assert set(LEARNED_EXTRACTORS) == {"sketchkeras", "simplification"}
