"""Layered files (.ora, .psd) and the CLI's --layers: names, sizes, and compositing back to the result."""

import io
import xml.etree.ElementTree as ET
import zipfile

import numpy as np
import pytest
from PIL import Image
from psd_tools import PSDImage

from irodori.cli import main
from irodori.colorize.pipeline import Colorizer

from conftest import cross_lineart

NAMES = ["hints", "lines", "shading", "flats"]  # top to bottom


def composite_ora(path):
    """Composite an OpenRaster file ourselves: bottom to top, normal or multiply, hidden layers skipped."""
    z = zipfile.ZipFile(path)
    stack = ET.fromstring(z.read("stack.xml")).find("stack")
    w, h = Image.open(io.BytesIO(z.read("mergedimage.png"))).size
    out = np.ones((h, w, 3))
    for layer in reversed(list(stack)):
        if layer.get("visibility") == "hidden":
            continue
        rgba = np.asarray(Image.open(io.BytesIO(z.read(layer.get("src")))).convert("RGBA"), np.float64) / 255
        rgb, a = rgba[..., :3], rgba[..., 3:]
        blended = out * rgb if layer.get("composite-op") == "svg:multiply" else rgb
        out = out * (1 - a) + blended * a
    return z, stack, out


def colorize(model_path):
    col = Colorizer.from_pretrained(str(model_path))
    return col(cross_lineart(), [{"x": 10, "y": 10, "color": "#d22f27", "size": 5}])


def test_ora_and_psd_hold_the_named_layers_and_composite_to_the_result(model_path, tmp_path):
    src = tmp_path / "line.png"
    Image.fromarray(cross_lineart()).save(src)
    out = tmp_path / "out.png"
    assert main(["colorize", str(src), "-o", str(out), "--model", str(model_path), "--layers",
                 "--hint", "10,10,#d22f27,5"]) == 0
    result = np.asarray(Image.open(out), np.float64) / 255
    z, stack, comp = composite_ora(tmp_path / "out.ora")
    assert z.namelist()[0] == "mimetype" and z.read("mimetype") == b"image/openraster"
    assert z.getinfo("mimetype").compress_type == zipfile.ZIP_STORED
    assert [layer.get("name") for layer in stack] == NAMES
    assert {Image.open(io.BytesIO(z.read(layer.get("src")))).size for layer in stack} == {(90, 60)}
    assert np.abs(comp - result).max() <= 3 / 255
    psd = PSDImage.open(tmp_path / "out.psd")
    assert [layer.name for layer in reversed(list(psd))] == NAMES and psd.size == (90, 60)
    assert not next(layer for layer in psd if layer.name == "hints").visible
    psd_comp = np.asarray(psd.composite(force=True).convert("RGB"), np.float64) / 255
    assert np.abs(psd_comp - result).max() <= 3 / 255
    for name in ("line", "flats", "shading"):
        assert Image.open(tmp_path / f"out.{name}.png").size == (90, 60)


def test_layers_write_nothing_when_one_output_cannot_be_written(model_path, tmp_path, capsys):
    src = tmp_path / "line.png"
    Image.fromarray(cross_lineart()).save(src)
    (tmp_path / "out.line.png").mkdir()  # a folder where a layer PNG should go
    code = main(["colorize", str(src), "-o", str(tmp_path / "out.png"), "--model", str(model_path), "--layers"])
    assert code == 2
    err = capsys.readouterr().err
    assert "out.line.png" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["line.png", "out.line.png"], "no partial set, no temps"


def test_hints_only_and_model_modes_from_the_cli(model_path, tmp_path):
    src = tmp_path / "line.png"
    Image.fromarray(cross_lineart()).save(src)
    for mode in ("hints-only", "model"):
        out = tmp_path / f"{mode}.png"
        assert main(["colorize", str(src), "-o", str(out), "--model", str(model_path), "--flats", mode,
                     "--hint", "10,10,#d22f27,5"]) == 0
    only = np.asarray(Image.open(tmp_path / "hints-only.png"), np.int16)
    assert np.abs(only[10, 10] - [0xd2, 0x2f, 0x27]).max() <= 40, "the hinted region takes the hint"
    assert only[45, 70].min() >= 250, "an unhinted region stays white"
    with pytest.raises(SystemExit) as exit_info:
        main(["colorize", str(src), "-o", str(tmp_path / "x.png"), "--model", str(model_path), "--shading", "2"])
    assert exit_info.value.code == 2


def test_the_psd_preview_is_the_merged_image_as_given():
    from irodori.colorize.layerfile import Layer, psd_bytes

    rng = np.random.default_rng(0)
    h, w = 37, 53
    flats = Image.fromarray((rng.random((h, w, 3)) * 255).astype(np.uint8))
    shading = Image.fromarray((rng.random((h, w, 3)) * 255).astype(np.uint8))
    merged = Image.fromarray((np.asarray(flats, np.float64) * np.asarray(shading) / 255).astype(np.uint8))
    clear = Image.fromarray(np.zeros((h, w, 4), np.uint8), "RGBA")
    stack = [Layer("hints", clear, visible=False), Layer("lines", clear, "multiply"),
             Layer("shading", shading, "multiply"), Layer("flats", flats)]
    psd = PSDImage.open(io.BytesIO(psd_bytes(stack, merged)))
    assert np.array_equal(np.asarray(psd.topil().convert("RGB")), np.asarray(merged))
    recomposited = np.asarray(psd.composite(force=True).convert("RGB"), np.int16)
    assert np.abs(recomposited - np.asarray(merged, np.int16)).max() <= 1


def test_psd_line_and_hint_layers_carry_real_transparency_not_a_mask():
    from irodori.colorize.layerfile import Layer, psd_bytes

    ink = np.zeros((16, 20, 4), np.uint8)
    ink[4:8, :, 3] = 255  # one band of opaque black ink on a transparent layer
    stack = [Layer("lines", Image.fromarray(ink, "RGBA"), "multiply"), Layer("flats", Image.new("RGB", (20, 16), "red"))]
    psd = PSDImage.open(io.BytesIO(psd_bytes(stack, Image.new("RGB", (20, 16), "red"))))
    lines = next(layer for layer in psd if layer.name == "lines")
    assert not lines.has_mask(), "transparency is the layer's own, not a layer mask"
    alpha = np.asarray(lines.topil())[..., 3]
    assert alpha[0].max() == 0 and alpha[5].min() == 255
