"""The CLI and the files it is given (issue 27, F1 and F3-F8): TIFF modes with extra samples, names at and over
the file system's limits, devices and FIFOs as inputs and outputs, symlinked outputs, byte-order marks, and
`export`/`evaluate`/`info` with paths that are not what they should be. Every refusal is one line, exit 2,
and nothing but the requested outputs changes."""

import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from irodori.atomic import atomic_write_files
from irodori.cli import main
from irodori.colorize.imageio import open_image, to_rgb_array
from test_cli_colorize import _one_thread, colorize, lineart, one_error_line, tree  # noqa: F401 - autouse fixture


def _tiff(array: np.ndarray, **options) -> bytes:
    buf = io.BytesIO()
    tifffile.imwrite(buf, array, **options)
    return buf.getvalue()


# -- F1: TIFF with associated alpha ----------------------------------------------------------------------------


def test_a_grey_tiff_with_associated_alpha_is_composited_on_white():
    a = np.zeros((8, 8, 2), np.uint8)
    a[..., 0], a[..., 1] = 64, 128  # grey 128 at half coverage, premultiplied: 64
    rgb = to_rgb_array(open_image(_tiff(a, photometric="minisblack", extrasamples=["assocalpha"]), 10**6))
    assert rgb.shape == (8, 8, 3) and np.all(np.abs(rgb.astype(int) - 191) <= 1)


def test_colorize_colors_the_issues_la_tiff(tmp_path, capsys):
    src = tmp_path / "la.tif"
    src.write_bytes(_tiff(np.full((64, 64, 2), 255, np.uint8), photometric="minisblack", extrasamples=["assocalpha"]))
    code, out, err = colorize(capsys, src, "-o", tmp_path / "o.png")
    assert code == 0, err
    assert Image.open(tmp_path / "o.png").size == (64, 64)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.int16])
@pytest.mark.parametrize("photometric,channels,extra", [
    ("minisblack", 1, ["assocalpha"]), ("minisblack", 1, ["unassalpha"]), ("minisblack", 1, ["unspecified"]),
    ("rgb", 3, ["assocalpha"]), ("rgb", 3, ["unassalpha", "unspecified"]), ("separated", 4, []),
    ("minisblack", 1, ["assocalpha", "unspecified"])])
def test_no_tiff_mode_or_extra_sample_gets_anything_but_rgb_or_a_refusal(dtype, photometric, channels, extra):
    from irodori.errors import UnreadableImage

    data = _tiff(np.full((8, 8, channels + len(extra)), 7, dtype), photometric=photometric,
                 **({"extrasamples": extra} if extra else {}))
    try:
        rgb = to_rgb_array(open_image(data, 10**6))
    except UnreadableImage:
        return
    assert rgb.shape == (8, 8, 3) and rgb.dtype == np.uint8


# -- F3, F4: long names -----------------------------------------------------------------------------------------


def test_an_input_name_over_255_bytes_is_one_line(tmp_path, capsys):
    code, _, err = colorize(capsys, tmp_path / ("b" * 300 + ".png"), "-o", tmp_path / "o")
    assert code == 2
    one_error_line(err, "over the file system's limit of 255 bytes")


@pytest.mark.parametrize("name,layers", [("c" * 252 + ".png", False), ("d" * 246 + ".png", True)])
def test_an_output_name_over_255_bytes_is_refused_before_coloring(tmp_path, capsys, name, layers):
    src = lineart(tmp_path / "in.png")
    code, _, err = colorize(capsys, src, "-o", tmp_path / "o" / name, *(["--layers"] if layers else []))
    assert code == 2
    one_error_line(err, "over the file system's limit of 255 bytes")
    assert tree(tmp_path) == ["in.png"]


def test_an_output_path_of_5000_characters_is_one_line(tmp_path, capsys):
    src = lineart(tmp_path / "in.png")
    code, _, err = colorize(capsys, src, "-o", "e/" * 2500 + "x.png")
    assert code == 2
    line = one_error_line(err, "the path is 5005 bytes long")
    assert len(line) < 400


def test_a_255_byte_input_name_is_colored_though_its_sidecar_name_would_be_too_long(tmp_path, capsys):
    src = lineart(tmp_path / ("f" * 251 + ".png"))
    code, _, err = colorize(capsys, src, "-o", tmp_path / "o.png")
    assert code == 0, err


def test_a_255_byte_output_name_is_written_though_its_temp_name_would_be_too_long(tmp_path, capsys):
    src = lineart(tmp_path / "in.png")
    out = tmp_path / ("g" * 251 + ".png")
    code, _, err = colorize(capsys, src, "-o", out)
    assert code == 0, err
    assert sorted(tree(tmp_path)) == sorted(["in.png", out.name])


def test_atomic_writes_fit_their_temp_names_to_a_255_byte_target(tmp_path):
    target = tmp_path / ("é" * 127 + "x")  # 255 bytes in UTF-8: a cut in the middle of a character must not fail
    atomic_write_files([(target, b"data")])
    assert target.read_bytes() == b"data" and os.listdir(tmp_path) == [target.name]


# -- F5: devices, FIFOs and symlinks as outputs; F7, F8 and devices as inputs ------------------------------------


def test_an_output_that_is_a_fifo_or_a_character_device_is_refused_and_left_alone(tmp_path, capsys):
    src = lineart(tmp_path / "in.png")
    os.mkfifo(tmp_path / "fifo.png")
    os.symlink("/dev/null", tmp_path / "null.png")
    for name, what in (("fifo.png", "a FIFO"), ("null.png", "a character device")):
        code, _, err = colorize(capsys, src, "-o", tmp_path / name)
        assert code == 2
        one_error_line(err, what)
    assert stat.S_ISFIFO(os.stat(tmp_path / "fifo.png").st_mode)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode) and os.readlink(tmp_path / "null.png") == "/dev/null"


def test_an_output_that_is_a_symlink_is_written_through_and_the_link_kept(tmp_path, capsys):
    src = lineart(tmp_path / "in.png")
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real" / "r.png", tmp_path / "link.png")
    code, _, err = colorize(capsys, src, "-o", tmp_path / "link.png")
    assert code == 0, err
    assert (tmp_path / "link.png").is_symlink() and Image.open(tmp_path / "real" / "r.png").size == (64, 64)
    assert os.listdir(tmp_path / "real") == ["r.png"]


@pytest.mark.parametrize("hints", ["/dev/null", "/dev/zero", "FIFO"])
def test_a_hint_file_that_is_a_device_or_a_fifo_is_named_as_such_not_missing(tmp_path, capsys, hints):
    if hints == "FIFO":
        hints = tmp_path / "h.json"
        os.mkfifo(hints)
    code, _, err = colorize(capsys, lineart(tmp_path / "in.png"), "--hints", hints, "-o", tmp_path / "o.png")
    assert code == 2
    line = one_error_line(err, "not a regular file")
    assert "does not exist" not in line


def test_an_input_that_is_a_fifo_is_refused_without_blocking(tmp_path, capsys):
    os.mkfifo(tmp_path / "in.png")
    code, _, err = colorize(capsys, tmp_path / "in.png", "-o", tmp_path / "o.png")
    assert code == 2
    one_error_line(err, "is a FIFO")


def test_info_with_a_fifo_as_its_preset_exits_at_once(tmp_path):
    os.mkfifo(tmp_path / "f.yaml")
    run = subprocess.run([sys.executable, "-m", "irodori", "info", "--preset", str(tmp_path / "f.yaml")],
                         capture_output=True, text=True, timeout=60)  # a read would block forever
    assert run.returncode == 2
    assert run.stderr.strip() == f"irodori info: error: config file {tmp_path / 'f.yaml'} is a FIFO (named pipe), " \
                                 "not a regular file"


def test_hint_json_with_a_byte_order_mark_is_accepted(tmp_path, capsys):
    hints = tmp_path / "h.json"
    hints.write_bytes(b"\xef\xbb\xbf" + json.dumps([{"x": 10, "y": 10, "color": "#ff0000"}]).encode())
    code, _, err = colorize(capsys, lineart(tmp_path / "in.png"), "--hints", hints, "-o", tmp_path / "o.png")
    assert code == 0, err


# -- F5, F6: export and evaluate --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    assert main(["train", "tiny", "train.log_every=5", "train.sample_every=1000", "train.ckpt_every=1", "--out", str(run),
                 "--steps", "2"]) == 0
    return run


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("out", ["RUN/checkpoints/ckpt-00000002.pt", "RUN/config.yaml", "RUN/checkpoints/x.safetensors",
                                 "TMP/EXISTING_DIR", "TMP/EXISTING_DIR.safetensors", "TMP/FILE/x.safetensors", "",
                                 "TMP/NOTES.safetensors", "/dev/null", "TMP/DEV.safetensors"])
def test_export_refuses_to_overwrite_its_run_a_folder_a_device_or_a_foreign_json(run_dir, tmp_path, capsys, out):
    (tmp_path / "EXISTING_DIR").mkdir()
    (tmp_path / "EXISTING_DIR.safetensors").mkdir()
    (tmp_path / "FILE").write_text("x")
    (tmp_path / "NOTES.json").write_text('{"mine": 1}')
    os.symlink("/dev/null", tmp_path / "DEV.safetensors")
    target = out.replace("RUN", str(run_dir)).replace("TMP", str(tmp_path))
    before, around = _files(run_dir), _files(tmp_path)
    capsys.readouterr()
    assert main(["export", str(run_dir), "--out", target]) == 2
    err = capsys.readouterr().err
    assert err.startswith("irodori export: error: ") and len(err.strip().splitlines()) == 1, err
    assert _files(run_dir) == before and _files(tmp_path) == around
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_export_replaces_its_own_earlier_release(run_dir, tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    assert main(["export", str(run_dir), "--out", str(out)]) == 0
    assert main(["export", str(run_dir), "--out", str(out), "--fp16"]) == 0
    assert json.loads(out.with_suffix(".json").read_text())["dtype"] == "float16"


def test_export_step_takes_a_kept_checkpoint_and_names_the_kept_steps_otherwise(run_dir, tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    assert main(["export", str(run_dir), "--out", str(out), "--step", "1"]) == 0
    assert json.loads(out.with_suffix(".json").read_text())["step"] == 1
    capsys.readouterr()
    assert main(["export", str(run_dir), "--out", str(out), "--step", "7"]) == 2
    err = capsys.readouterr().err
    assert "keeps no checkpoint of step 7 (kept: 1, 2)" in err and len(err.strip().splitlines()) == 1


def test_evaluate_with_a_file_as_data_is_one_line(tmp_path, capsys):
    (tmp_path / "FILE").write_text("x")
    assert main(["evaluate", "--data", str(tmp_path / "FILE"), "--split", "test"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("irodori evaluate: error: --data ") and "is a regular file" in err


@pytest.mark.parametrize("value", ["1_024", "\u0661\u0660\u0662\u0664", "\uff16\uff14", " 64"])
def test_a_number_option_that_is_not_plain_ascii_digits_is_refused(tmp_path, value):
    with pytest.raises(SystemExit) as exc:
        main(["colorize", str(lineart(tmp_path / "in.png")), "-o", str(tmp_path / "o.png"), "--resolution", value])
    assert exc.value.code == 2 and not (tmp_path / "o.png").exists()


def test_a_hint_flag_with_underscores_or_other_digits_is_one_line(tmp_path, capsys):
    for flag in ("1_0,5,#ff0000", "\uff11,5,#ff0000"):
        code, _, err = colorize(capsys, lineart(tmp_path / "in.png"), "--hint", flag, "-o", tmp_path / "o.png")
        assert code == 2
        one_error_line(err, "must be a number")
