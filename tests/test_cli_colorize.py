"""`irodori colorize` under hostile use: every refusal is one line with exit 2, a bad image in a batch is
skipped and counted, and nothing is written but the requested outputs (the hardening issue's rows)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from irodori.cli import main
from irodori.colorize.imageio import image_bytes


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """64 px images: one thread is fastest and leaves the machine's other cores alone."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def lineart(path: Path, size: int = 64) -> Path:
    """A tiny cross of black lines on white, in the format the suffix names."""
    a = np.full((size, size), 255, np.uint8)
    a[size // 2, :] = 0
    a[:, size // 3] = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).convert("RGB").save(path)
    return path


def colorize(capsys, *args) -> tuple[int, str, str]:
    """Run the CLI in-process with the bundled model at a small working size; (exit code, stdout, stderr)."""
    code = main(["colorize", *map(str, args), "--resolution", "32"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def one_error_line(err: str, *needles: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("irodori colorize: ") and "error:" in lines[0], lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# -- tracebacks in the CLI -------------------------------------------------------------------------------------


def test_an_output_file_that_is_an_existing_folder_is_refused_in_one_line(tmp_path, capsys):
    src = lineart(tmp_path / "in.png")
    (tmp_path / "out.png").mkdir()
    code, _, err = colorize(capsys, src, "-o", tmp_path / "out.png")
    assert code == 2
    one_error_line(err, "out.png", "is a folder")
    assert tree(tmp_path) == ["in.png", "out.png"]


def test_an_output_below_a_file_is_refused_in_one_line(tmp_path, capsys):
    src = lineart(tmp_path / "in.png")
    (tmp_path / "f").write_text("a file")
    code, _, err = colorize(capsys, src, "-o", tmp_path / "f" / "out.png")
    assert code == 2
    one_error_line(err, "is not a folder")
    assert tree(tmp_path) == ["f", "in.png"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_an_output_folder_that_is_a_device_file_is_refused_in_one_line(tmp_path, capsys):
    code, _, err = colorize(capsys, lineart(tmp_path / "in.png"), "-o", "/dev/full")
    assert code == 2
    one_error_line(err, "/dev/full", "not a folder")


@pytest.mark.parametrize("out", ["/proc/irodori-test.png", "/sys/irodori-test.png", "/proc/irodori-test-dir"])
def test_outputs_under_proc_or_sys_fail_in_one_line_and_leave_nothing(out, tmp_path, capsys):
    if not os.path.isdir(os.path.dirname(out)):
        pytest.skip(f"no {os.path.dirname(out)}")
    code, _, err = colorize(capsys, lineart(tmp_path / "in.png"), "-o", out)
    assert code == 2
    one_error_line(err, "cannot write")
    assert not os.path.exists(out)


@pytest.mark.parametrize("threads", ["-1", "many", "1.5"])
def test_a_bad_thread_count_is_refused_in_one_line(threads, tmp_path, capsys):
    code, _, err = colorize(capsys, lineart(tmp_path / "in.png"), "-o", tmp_path / "out.png", "--threads", threads)
    assert code == 2
    one_error_line(err, "--threads")
    assert tree(tmp_path) == ["in.png"]


def test_refusals_print_no_traceback_from_the_real_command_line(tmp_path):
    src = lineart(tmp_path / "in.png")
    (tmp_path / "out.png").mkdir()
    for extra in (["-o", str(tmp_path / "out.png")], ["-o", str(tmp_path / "t.png"), "--threads", "-1"]):
        proc = subprocess.run([sys.executable, "-m", "irodori", "colorize", str(src), *extra],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, proc.stderr
        one_error_line(proc.stderr)
    assert tree(tmp_path) == ["in.png", "out.png"]


# -- one bad file aborts a folder batch -----------------------------------------------------------------------


def test_corrupt_images_in_a_folder_are_skipped_and_counted_and_the_good_ones_written(tmp_path, capsys):
    d = tmp_path / "in"
    lineart(d / "a.png")
    good = lineart(tmp_path / "src.png").read_bytes()
    (d / "b.png").write_bytes(good[: len(good) // 2])  # truncated
    (d / "c.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(64))  # garbage after the magic
    lineart(d / "d.png")
    code, out, err = colorize(capsys, d, "-o", tmp_path / "out")
    assert code == 1
    assert tree(tmp_path / "out") == ["a.png", "d.png"]
    assert "colorized 2 of 4 images" in out and "(2 failed)" in out
    lines = err.strip().splitlines()
    assert len(lines) == 2 and "b.png" in lines[0] and "c.png" in lines[1]


def test_an_unexpected_exception_for_one_image_is_one_line_and_the_batch_goes_on(tmp_path, capsys, monkeypatch):
    import irodori.colorize.pipeline

    real = irodori.colorize.pipeline.lineart_to_unit

    def flaky(path, *args, **kwargs):
        if isinstance(path, Path) and path.name == "b.png":
            raise RuntimeError("boom\nwith a second line")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(irodori.colorize.pipeline, "lineart_to_unit", flaky)
    d = tmp_path / "in"
    for name in ("a.png", "b.png", "c.png"):
        lineart(d / name)
    code, out, err = colorize(capsys, d, "-o", tmp_path / "out")
    assert code == 1
    assert tree(tmp_path / "out") == ["a.png", "c.png"]
    assert "colorized 2 of 3 images" in out
    one_error_line(err, "b.png", "unexpected RuntimeError: boom with a second line")


def test_an_unexpected_exception_for_a_single_image_is_one_line_and_exit_1(tmp_path, capsys, monkeypatch):
    import irodori.colorize.pipeline

    monkeypatch.setattr(irodori.colorize.pipeline, "lineart_to_unit", lambda *a, **k: 1 / 0)
    code, _, err = colorize(capsys, lineart(tmp_path / "in.png"), "-o", tmp_path / "out.png")
    assert code == 1
    one_error_line(err, "in.png", "ZeroDivisionError")
    assert tree(tmp_path) == ["in.png"]


def test_keyboard_interrupt_still_stops_a_batch(tmp_path, capsys, monkeypatch):
    import irodori.colorize.pipeline

    real = irodori.colorize.pipeline.lineart_to_unit

    def interrupted(path, *args, **kwargs):
        if isinstance(path, Path) and path.name == "b.png":
            raise KeyboardInterrupt
        return real(path, *args, **kwargs)

    monkeypatch.setattr(irodori.colorize.pipeline, "lineart_to_unit", interrupted)
    d = tmp_path / "in"
    for name in ("a.png", "b.png", "c.png"):
        lineart(d / name)
    code, _, err = colorize(capsys, d, "-o", tmp_path / "out")
    assert code == 130 and "interrupted" in err
    assert tree(tmp_path / "out") == ["a.png"]


def test_an_output_that_cannot_be_written_stops_a_batch_with_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    """A full disk or a read-only folder fails every image alike: one line, not one per image."""
    import errno

    import irodori.atomic

    real, calls = irodori.atomic.atomic_write_files, []

    def fills_up(files):
        calls.append(files)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(files[0][0]))
        real(files)

    monkeypatch.setattr(irodori.atomic, "atomic_write_files", fills_up)
    d = tmp_path / "in"
    for name in ("a.png", "b.png", "c.png"):
        lineart(d / name)
    code, _, err = colorize(capsys, d, "-o", tmp_path / "out")
    assert code == 2 and len(calls) == 2
    one_error_line(err, "cannot write", "b.png", "No space left on device")
    assert tree(tmp_path / "out") == ["a.png"]


# -- input silently overwritten -------------------------------------------------------------------------------


def test_an_output_that_is_the_input_file_is_refused(tmp_path, capsys, monkeypatch):
    src = lineart(tmp_path / "in.png")
    before = src.read_bytes()
    monkeypatch.chdir(tmp_path)
    for out in ("in.png", "./in.png", str(src), str(tmp_path / "sub" / ".." / "in.png")):
        (tmp_path / "sub").mkdir(exist_ok=True)
        code, _, err = colorize(capsys, "in.png", "-o", out)
        assert code == 2
        one_error_line(err, "it is an input")
    assert src.read_bytes() == before


def test_an_output_that_is_a_link_to_the_input_is_refused(tmp_path, capsys):
    src = lineart(tmp_path / "in.png")
    before = src.read_bytes()
    os.symlink(src, tmp_path / "sym.png")
    os.link(src, tmp_path / "hard.png")
    for link in ("sym.png", "hard.png"):
        code, _, err = colorize(capsys, src, "-o", tmp_path / link)
        assert code == 2
        one_error_line(err, "it is an input")
    assert src.read_bytes() == before


def test_an_empty_output_is_refused(tmp_path, capsys):
    code, _, err = colorize(capsys, lineart(tmp_path / "in.png"), "-o", "")
    assert code == 2
    one_error_line(err, "-o is empty")


@pytest.mark.parametrize("suffix", ["", "/", "/.", "/sub/.."])
def test_an_output_folder_that_is_the_input_folder_is_refused(suffix, tmp_path, capsys):
    d = tmp_path / "d"
    lineart(d / "x.png")
    lineart(d / "sub" / "y.png")
    code, _, err = colorize(capsys, d, "-o", str(d) + suffix)
    assert code == 2
    one_error_line(err, "is the input folder", "would replace the line art")
    assert tree(d) == ["sub", "sub/y.png", "x.png"]


def test_a_folder_output_that_would_replace_a_named_input_is_refused(tmp_path, capsys):
    d = tmp_path / "d"
    lineart(d / "x.png")
    code, _, err = colorize(capsys, d / "x.png", "-o", d)
    assert code == 2
    one_error_line(err, "it is an input")


def test_no_layer_output_may_replace_an_input_a_sidecar_or_the_hint_file(tmp_path, capsys):
    art = lineart(tmp_path / "art.line.png")
    code, _, err = colorize(capsys, art, "-o", tmp_path / "art.png", "--layers")  # art.line.png is a layer name
    assert code == 2
    one_error_line(err, "art.line.png", "it is an input")
    src = lineart(tmp_path / "x.png")
    sidecar = tmp_path / "x.hints.png"
    Image.new("RGBA", (64, 64)).save(sidecar)
    code, _, err = colorize(capsys, src, "-o", sidecar)
    assert code == 2
    one_error_line(err, "hint sidecar")
    code, _, err = colorize(capsys, src, "-o", tmp_path / "x.hints.json" / ".." / "x.hints.png")
    assert code == 2
    hints = tmp_path / "h.json"
    hints.write_text('[{"x": 5, "y": 5, "color": "#ff0000"}]')
    code, _, err = colorize(capsys, src, "-o", tmp_path / "h.png", "--hints", hints, "--layers")
    assert code == 0  # h.png's layers are h.ora, h.line.png ...: no clash with h.json
    code, _, err = colorize(capsys, src, "-o", tmp_path / "hh", "--hints", tmp_path / "hh" / "x.png")
    assert code == 2  # the hint file does not exist: refused before anything
    lineart(tmp_path / "hh" / "x.png")
    code, _, err = colorize(capsys, src, "-o", tmp_path / "hh", "--hints", tmp_path / "hh" / "x.png")
    assert code == 2
    one_error_line(err, "the hint file")


# -- name collisions in folder mode ---------------------------------------------------------------------------


def test_folder_mode_keeps_sub_folders_and_the_extension_of_shared_stems(tmp_path, capsys):
    d = tmp_path / "d"
    for name in ("x.png", "x.jpg", "sub/x.png", "y.png"):
        lineart(d / name)
    code, out, _ = colorize(capsys, d, "-o", tmp_path / "out")
    assert code == 0
    assert tree(tmp_path / "out") == ["sub", "sub/x.png", "x.jpg.png", "x.png.png", "y.png"]
    assert "colorized 4 of 4 images" in out


def test_layer_names_that_would_collide_keep_the_extension_too(tmp_path, capsys):
    d = tmp_path / "d"
    lineart(d / "x.png")
    lineart(d / "x.line.png")
    code, _, _ = colorize(capsys, d, "-o", tmp_path / "out", "--layers")
    assert code == 0
    names = tree(tmp_path / "out")
    assert len(names) == 12 and "x.png.png" in names and "x.line.png.png" in names and "x.png.line.png" in names


def test_inputs_that_would_still_share_an_output_are_refused_before_anything_is_written(tmp_path, capsys):
    a, b = lineart(tmp_path / "a" / "x.png"), lineart(tmp_path / "b" / "x.png")
    code, _, err = colorize(capsys, a, b, "-o", tmp_path / "out")
    assert code == 2
    one_error_line(err, "would both be written to")
    assert not (tmp_path / "out").exists()


def test_the_same_image_named_twice_is_colorized_once(tmp_path, capsys):
    src = lineart(tmp_path / "d" / "x.png")
    code, out, _ = colorize(capsys, src, tmp_path / "d", "-o", tmp_path / "out")
    assert code == 0
    assert tree(tmp_path / "out") == ["x.png"]


# -- --layers leaves a partial set ----------------------------------------------------------------------------


def test_layers_write_nothing_when_one_layer_path_is_a_folder(tmp_path, capsys):
    src = lineart(tmp_path / "in.png")
    (tmp_path / "out.line.png").mkdir()
    code, _, err = colorize(capsys, src, "-o", tmp_path / "out.png", "--layers")
    assert code == 2
    one_error_line(err, "out.line.png", "is a folder")
    assert tree(tmp_path) == ["in.png", "out.line.png"]


# -- odd options ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix,fmt", [(".png", "PNG"), (".jpg", "JPEG"), (".jpeg", "JPEG"), (".webp", "WEBP"),
                                        (".tif", "TIFF"), (".TIFF", "TIFF"), (".bmp", "BMP")])
def test_each_writable_suffix_is_written_in_its_format(suffix, fmt, tmp_path, capsys):
    src = lineart(tmp_path / "in.png")
    code, _, _ = colorize(capsys, src, "-o", tmp_path / f"out{suffix}")
    assert code == 0
    with Image.open(tmp_path / f"out{suffix}") as im:
        assert im.format == fmt and im.size == (64, 64)
    assert tree(tmp_path) == sorted(["in.png", f"out{suffix}"])


def test_webp_tiff_and_bmp_outputs_are_lossless():
    rgb = np.random.default_rng(0).integers(0, 256, (16, 24, 3), dtype=np.uint8)
    import io

    for suffix in (".webp", ".tif", ".bmp", ".png"):
        with Image.open(io.BytesIO(image_bytes(Image.fromarray(rgb), suffix))) as im:
            assert np.array_equal(np.asarray(im.convert("RGB")), rgb), suffix
    with pytest.raises(ValueError, match="cannot write '.gif'"):
        image_bytes(Image.fromarray(rgb), ".gif")


def test_gif_output_is_refused_because_its_palette_would_lose_colors(tmp_path, capsys):
    code, _, err = colorize(capsys, lineart(tmp_path / "in.png"), "-o", tmp_path / "out.gif")
    assert code == 2
    one_error_line(err, "out.gif", "256 colors")
    assert tree(tmp_path) == ["in.png"]


@pytest.mark.parametrize("name", ["out.pdf", "out.ico", "out.heic", "out.ora", "out.psd"])
def test_other_image_suffixes_are_refused_not_taken_for_folder_names(name, tmp_path, capsys):
    code, _, err = colorize(capsys, lineart(tmp_path / "in.png"), "-o", tmp_path / name)
    assert code == 2
    one_error_line(err, name, "cannot write")
    assert tree(tmp_path) == ["in.png"]


@pytest.mark.parametrize("out", ["results.v2", "out.png/"])
def test_a_name_without_an_image_suffix_or_with_a_trailing_slash_is_a_folder(out, tmp_path, capsys):
    code, _, _ = colorize(capsys, lineart(tmp_path / "in.png"), "-o", f"{tmp_path}/{out}")
    assert code == 0
    assert (tmp_path / out / "in.png").is_file()


@pytest.mark.parametrize("option,value", [("--resolution", "0"), ("--resolution", "15"), ("--resolution", "4097"),
                                          ("--resolution", "-5"), ("--resolution", "big"), ("--max-gap", "-1"),
                                          ("--max-gap", "65"), ("--shading", "nan")])
def test_numbers_out_of_range_are_refused_when_the_arguments_are_read(option, value, tmp_path, capsys):
    src = lineart(tmp_path / "in.png")
    with pytest.raises(SystemExit) as exit_info:
        main(["colorize", str(src), "-o", str(tmp_path / "out.png"), f"{option}={value}"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and option in err.strip().splitlines()[-1]
    assert tree(tmp_path) == ["in.png"]


def test_a_hint_image_inside_a_scanned_folder_is_not_colored_as_line_art(tmp_path, capsys):
    d = tmp_path / "in"
    lineart(d / "a.png")
    hint = Image.new("RGBA", (64, 64))
    hint.putpixel((10, 10), (255, 0, 0, 255))
    hint.save(d / "my-hints.png")
    code, out, err = colorize(capsys, d, "--hints", d / "my-hints.png", "-o", tmp_path / "out")
    assert code == 0, err
    assert tree(tmp_path / "out") == ["a.png"]


def test_a_rerun_into_a_folder_inside_the_input_folder_does_not_color_its_own_results(tmp_path, capsys):
    d = tmp_path / "in"
    lineart(d / "a.png")
    lineart(d / "sub" / "b.png")
    first = colorize(capsys, d, "-o", d / "colored")
    assert first[0] == 0, first[2]
    again = colorize(capsys, d, "-o", d / "colored")
    assert again[0] == 0, again[2]
    assert tree(d / "colored") == ["a.png", "sub", "sub/b.png"]


def test_layers_list_every_file_written_and_the_working_size_is_said(tmp_path, capsys):
    code, out, err = colorize(capsys, lineart(tmp_path / "in.png"), "-o", tmp_path / "out.png", "--layers")
    assert code == 0
    written = out.strip().splitlines()
    assert [Path(p).name for p in written] == ["out.png", "out.ora", "out.psd", "out.line.png", "out.flats.png",
                                               "out.shading.png"]
    assert all(Path(p).is_file() for p in written)
    assert "working size 32 px" in err
