import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import irodori
from irodori.cli import main
from irodori.colorize.hint_input import HintError, draw_hints, hint_layer_from_image, parse_hint_json
from irodori.colorize.pipeline import Colorizer, working_size
from irodori.colorize.regions import depth, segment

from conftest import cross_lineart


def test_output_has_input_size_any_aspect(model_path):
    col = Colorizer.from_pretrained(model_path)
    for w, h in [(90, 60), (33, 200), (17, 17)]:
        res = col(cross_lineart(w, h), [{"x": 5, "y": 5, "color": "#ff0000"}])
        assert res.image.size == (w, h) and res.flats.size == (w, h) and res.line.size == (w, h)
        assert res.image.mode == "RGB" and res.line.mode == "RGBA"


def test_line_art_is_multiplied_back_at_full_resolution(model_path):
    res = Colorizer.from_pretrained(model_path)(cross_lineart())
    img = np.asarray(res.image)
    assert img[30, :].max() == 0, "line pixels stay black"
    alpha = np.asarray(res.line)[..., 3]
    assert alpha[30, 0] == 255 and alpha[0, 0] == 0


def test_working_size_keeps_aspect_and_multiple():
    assert working_size(600, 900, 128) == (80, 128)
    h, w = working_size(1000, 10, 256)
    assert h == 256 and w == 16


@pytest.mark.parametrize("mode", ["RGBA", "P", "L", "I;16", "LA", "1"])
def test_image_modes(model_path, tmp_path, mode):
    rgb = Image.fromarray(cross_lineart()).convert("RGB")
    im = rgb.convert(mode) if mode != "I;16" else Image.fromarray(cross_lineart().astype(np.uint16) * 257)
    path = tmp_path / f"in_{mode.replace(';', '')}.png"
    im.save(path)
    res = Colorizer.from_pretrained(model_path)(str(path))
    assert res.image.size == (90, 60)
    assert np.asarray(res.image)[30].max() == 0


def test_oversized_image_is_refused(model_path, tmp_path):
    path = tmp_path / "big.png"
    Image.new("L", (400, 300), 255).save(path)
    col = Colorizer.from_pretrained(model_path, max_pixels=100_000)
    from irodori.errors import InputError
    with pytest.raises(InputError, match="over the limit"):
        col(str(path))


def test_hint_json_errors_name_the_entry():
    with pytest.raises(HintError, match="hint #1: point"):
        parse_hint_json(json.dumps([{"x": 1, "y": 1, "color": "#000000"}, {"x": 100, "y": 1, "color": "#ffffff"}]), 50, 50)
    with pytest.raises(HintError, match="hint #0: color"):
        parse_hint_json('[{"x": 1, "y": 1, "color": "red"}]', 50, 50)
    with pytest.raises(HintError, match="not valid JSON"):
        parse_hint_json('[{"x": 1, "y"', 50, 50)
    with pytest.raises(HintError, match="missing"):
        parse_hint_json('[{"x": 1}]', 50, 50)


def test_hint_png_rescaled_when_same_aspect():
    im = Image.new("RGBA", (20, 10), (0, 0, 0, 0))
    im.putpixel((0, 0), (255, 0, 0, 255))
    import io
    buf = io.BytesIO()
    im.save(buf, "PNG")
    layer = hint_layer_from_image(buf.getvalue(), 20, 40)
    assert layer.mask.shape == (20, 40) and layer.mask[0, 0] and tuple(layer.rgb[0, 0]) == (255, 0, 0)
    with pytest.raises(HintError, match="aspect"):
        hint_layer_from_image(buf.getvalue(), 40, 40)


def test_draw_hints_square_centered():
    (h,) = parse_hint_json('[{"x": 10, "y": 10, "color": "#00ff00", "size": 3}]', 20, 20)
    layer = draw_hints([h], 20, 20)
    ys, xs = np.nonzero(layer.mask)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (9, 11, 9, 11)


def test_cli_single_file_and_layers(model_path, tmp_path, capsys):
    src = tmp_path / "line.png"
    Image.fromarray(cross_lineart()).save(src)
    out = tmp_path / "out.png"
    assert main(["colorize", str(src), "-o", str(out), "--model", str(model_path), "--layers",
                 "--hint", "10,10,#ff0000,4"]) == 0
    assert Image.open(out).size == (90, 60)
    assert (tmp_path / "out.line.png").is_file() and (tmp_path / "out.flats.png").is_file()
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(out).st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's 0600


def test_cli_bad_hint_exits_2_and_writes_nothing(model_path, tmp_path, capsys):
    src = tmp_path / "line.png"
    Image.fromarray(cross_lineart()).save(src)
    hints = tmp_path / "h.json"
    hints.write_text('[{"x": 500, "y": 10, "color": "#ff0000"}]')
    out = tmp_path / "out.png"
    assert main(["colorize", str(src), "-o", str(out), "--model", str(model_path), "--hints", str(hints)]) == 2
    assert not out.exists()
    assert "hint #0" in capsys.readouterr().err


def test_cli_folder_reports_failures_and_continues(model_path, tmp_path, capsys):
    d = tmp_path / "in"
    d.mkdir()
    Image.fromarray(cross_lineart()).save(d / "a.png")
    (d / "b.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    Image.fromarray(cross_lineart(40, 40)).save(d / "c.png")
    assert main(["colorize", str(d), "-o", str(tmp_path / "out"), "--model", str(model_path)]) == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "c.png"]
    assert "b.png" in capsys.readouterr().err


def test_bundled_pipeline_fills_each_hinted_region_of_a_drawing_it_never_saw():
    """The shipped weights with the default region-aware flats: on the monkey (an OpenClipart test-split
    drawing), each hint colors its whole region, up to the lines and not past them, even where the network
    alone paints something else."""
    col = Colorizer.from_pretrained("demo")
    samples = Path(irodori.__file__).parent / "assets" / "samples"
    hints = json.loads((samples / "monkey.hints.json").read_text())
    line = np.asarray(Image.open(samples / "monkey.png").convert("L"), np.float32) / 255
    regions = segment(line)
    out = np.asarray(col(line, hints).image, np.float64)
    raw = np.asarray(col(line, hints, flats="model").image, np.float64)
    deep = depth(regions) >= 3
    for h in hints:
        region = (regions.labels == regions.labels[h["y"], h["x"]]) & deep
        want = np.array([int(h["color"][i:i + 2], 16) for i in (1, 3, 5)], np.float64)
        err = np.abs(out[region] - want).max(axis=1)
        assert (err <= 40).mean() >= 0.9, f"hint {h}: {(err <= 40).mean():.2f} of its region within 40 levels"
    hat = (regions.labels == regions.labels[63, 80]) & deep
    assert np.abs(raw[hat] - [0xcf, 0xe3, 0xf5]).max(axis=1).mean() > np.abs(out[hat] - [0xcf, 0xe3, 0xf5]).max(
        axis=1).mean() + 10, "the flats change what the network alone would paint there"
    background = regions.labels == regions.labels[2, 2]
    assert np.asarray(col(line, hints, flats="hints-only").image)[background & deep].min() >= 250


def test_colorize_options_are_checked_when_made():
    from irodori.errors import InputError
    from irodori.config import WORKING_SIZE
    from irodori.colorize.options import ColorizeOptions

    assert ColorizeOptions().long_side == WORKING_SIZE
    assert ColorizeOptions(resolution=64, shading=1, max_gap=0).long_side == 64
    for bad in [dict(flats="paint"), dict(shading=1.5), dict(shading="0.5"), dict(max_gap=65), dict(resolution=8),
                dict(backend="tensorrt"), dict(precision="fp8")]:
        with pytest.raises(InputError, match=next(iter(bad))):
            ColorizeOptions(**bad)
    torch_bf16, onnx_bf16 = (ColorizeOptions(backend=b, precision="bf16") for b in ("torch", "onnx"))
    assert (torch_bf16.generator_precision, onnx_bf16.generator_precision) == ("bf16", "fp32")


@pytest.mark.parametrize("argv", [["colorize", "x.png", "-o", "out"], ["serve"], ["bench", "infer"]])
def test_every_command_offers_the_declared_backends_and_the_server_one_queue_default(argv):
    import inspect

    from irodori.cli import _commands, build_parser
    from irodori.colorize.options import BACKENDS
    from irodori.web.app import create_app

    parser = build_parser(_commands())
    for backend in BACKENDS:
        assert parser.parse_args([*argv, "--backend", backend]).backend == backend
    with pytest.raises(SystemExit):
        parser.parse_args([*argv, "--backend", "tensorrt"])
    if argv == ["serve"]:
        assert parser.parse_args(argv).queue == inspect.signature(create_app).parameters["queue_size"].default
