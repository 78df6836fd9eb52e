"""`irodori colorize` fuzzed in-process: odd paths, suffixes, numbers, hint flags and files, corrupt images.

Whatever the arguments, ``main`` returns 0, 1 or 2 (argparse's own refusals exit 2), prints no traceback,
reports errors in ``irodori colorize: ...`` lines, and writes nothing but files under the output folder
(``out/``): no input, sidecar or hint file changes, no temp file is left. The bundled model is loaded once
and shared (every invocation would otherwise load it), the images are tiny, and the examples derandomized.
"""

import io
import json
import os
import shutil
import signal
import stat
import string
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from irodori.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: Workspace entries created as FIFOs, not files (a read of one would block: the CLI must refuse it by kind).
FIFO = b"<fifo>"
LONG, LEGAL = "n" * 300, "m" * 251  # a name over NAME_MAX; a stem that makes a 255-byte name with ".png"
#: Seconds any one invocation may take before it counts as a hang (SIGALRM interrupts a blocked open or read).
HANG_SECONDS = 120
# -o tokens replaced by the first input's path, or its hint sidecar's (a file input's; else the input folder).
SAME_AS_INPUT, SIDECAR_OF_INPUT = "<the first input>", "<the first input's sidecar>"
OUTSIDE = ("/dev/full", "/proc/irodori-fuzz.png", "/sys/irodori-fuzz.png", "/proc/irodori-fuzz")


def _lineart_bytes(w: int, h: int, fmt: str, mode: str = "L") -> bytes:
    a = np.full((h, w), 255, np.uint8)
    a[h // 2, :] = 0
    a[:, w // 3] = 0
    buf = io.BytesIO()
    Image.fromarray(a).convert(mode).save(buf, format=fmt)
    return buf.getvalue()


GOOD = [_lineart_bytes(w, h, fmt, mode) for (w, h), fmt, mode in [
    ((16, 16), "PNG", "L"), ((24, 12), "PNG", "RGBA"), ((20, 28), "JPEG", "RGB"), ((12, 12), "BMP", "RGB"),
    ((8, 8), "PNG", "1")]]
TOO_THIN = [_lineart_bytes(300, 8, "PNG"), _lineart_bytes(4, 4, "PNG")]

good_image = st.sampled_from(GOOD)
bad_image = st.one_of(
    st.sampled_from(TOO_THIN),
    st.binary(max_size=48),
    st.builds(lambda tail: PNG_MAGIC + tail, st.binary(max_size=48)),
    st.builds(lambda data, cut: data[:cut], good_image, st.integers(1, 60)),
)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-100, 100) | st.floats(allow_nan=True) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["x", "y", "color", "size", "z"]), inner, max_size=4),
    max_leaves=8)
hint_entry = st.fixed_dictionaries({
    "x": st.one_of(st.integers(-3, 40), st.floats(allow_nan=True)), "y": st.integers(-3, 40),
    "color": st.sampled_from(["#ff0000", "#00FF00", "#zzz", "red", "#12345", "#1234567"])},
    optional={"size": st.one_of(st.integers(-2, 600), st.just("big"))})
hint_file = st.one_of(
    st.binary(max_size=48),
    st.builds(lambda v: b"\xef\xbb\xbf" + json.dumps(v).encode(), st.lists(hint_entry, max_size=2)),  # a BOM
    st.builds(lambda v: json.dumps(v).encode(), json_value),
    st.builds(lambda v: json.dumps(v).encode(), st.lists(hint_entry, max_size=3)),
    bad_image, good_image,
)
hint_flag = st.one_of(
    st.text(alphabet=string.printable, max_size=16),
    st.builds(lambda x, y, c, s: f"{x},{y},{c}{s}", st.integers(-5, 40), st.integers(-5, 40),
              st.sampled_from(["#ff0000", "#0f0", "blue", "#GGGGGG", ""]),
              st.sampled_from(["", ",4", ",0", ",-1", ",999", ",x", ",4,5"])),
)
image_name = st.builds(lambda d, stem, ext: f"in/{d}{stem}{ext}", st.sampled_from(["", "", "sub/"]),
                       st.sampled_from(["a", "b", "x", "x.line", "y"]),
                       st.sampled_from([".png", ".png", ".jpg", ".PNG", ".webp", ".gif", ".bmp"]))


@st.composite
def workspaces(draw) -> dict[str, bytes]:
    """Files to create (relative path -> bytes): line art good and bad, sidecars, a hint file, a plain file."""
    files = {"file": b"not a folder"}
    for name in draw(st.lists(image_name, min_size=1, max_size=4, unique=True)):
        files[name] = draw(st.one_of(good_image, good_image, bad_image))
    if draw(st.booleans()):
        stem = draw(st.sampled_from(["in/a", "in/x", "in/sub/x"]))
        files[stem + draw(st.sampled_from([".hints.json", ".hints.png"]))] = draw(hint_file)
    files["hints.json"] = draw(hint_file)
    if draw(st.booleans()):  # names at and over the file system's limits, and FIFOs as inputs and outputs
        files[f"in/{LEGAL}.png"] = draw(good_image)
        files["fifo.png"] = files["fifo.json"] = files["in/fifo.png"] = FIFO
    return files


def _arguments(files: dict[str, bytes]) -> dict[str, tuple]:
    """Each part of a command line: (a strategy for values that pass, one for values that should be refused);
    a value of None leaves the option out."""
    images = sorted(n for n in files if n.startswith("in/"))
    one_of = st.sampled_from
    suffixes = one_of([".png", ".jpg", ".JPEG", ".webp", ".tif", ".bmp", "", "/"])
    return {
        "inputs": (st.one_of(st.just(["in"]), st.lists(one_of(images), min_size=1, max_size=2)),
                   st.lists(one_of(["missing.png", "", "out", "/dev/null", "/dev/zero", "in/\x00.png", "file",
                                    "hints.json", "in", f"{LONG}.png", f"in/{LONG}.png", "fifo.png", *images]),
                            min_size=1, max_size=3)),
        "-o": (st.one_of(one_of(["out", "out/", "out/sub/deeper", f"out/{LEGAL}.png", f"out/{'s' * 246}.png"]),
                         st.builds(lambda s: "out/r" + s, suffixes)),
               st.one_of(one_of([SAME_AS_INPUT, SIDECAR_OF_INPUT]),
                         one_of(["", " ", "in", "in/", "file/x.png", "file", "hints.json", "out/r.gif", "out/r.pdf",
                                 "out/r.ico", "out/\x00.png", f"out/{'c' * 252}.png", "e/" * 2500 + "x.png",
                                 "fifo.png", "out/link-to-null.png", *OUTSIDE]))),
        "--resolution": (one_of(["16", "24", "32"]), one_of(["0", "15", "4097", "-8", "x", "1e3", ""])),
        "--shading": (one_of([None, "0", "0.5", "1"]), one_of(["-0.1", "1.5", "nan", "inf", "x"])),
        "--max-gap": (one_of([None, "0", "3", "64"]), one_of(["65", "-1", "2.5", "x"])),
        "--threads": (one_of([None, "1", "0", "auto"]), one_of(["-1", "1.5", "x", "99999", ""])),
        "--flats": (one_of([None, "regions", "hints-only", "model"]), one_of(["nope", ""])),
        "--hints": (one_of([None, "hints.json"]), one_of(["missing.json", "in", "", "file", "fifo.json", "/dev/null",
                                                          "/dev/zero", f"{LONG}.json", *images])),
        "--hint": (st.lists(st.builds(lambda x, y: f"{x},{y},#3366cc,3", st.integers(0, 7), st.integers(0, 7)),
                            max_size=2),
                   st.lists(hint_flag, min_size=1, max_size=2)),
    }


PATH_PARTS = ("inputs", "-o", "--hints")


@st.composite
def invocations(draw, files: dict[str, bytes], may_be_odd: tuple[str, ...] | None = None) -> list[str]:
    """A command line: every part passes but for a few drawn to be odd (so most runs reach the model), drawn
    among ``may_be_odd`` (default: any part)."""
    parts = _arguments(files)
    odd = {name for name in (may_be_odd or parts) if draw(st.integers(0, 3)) == 3}  # 0 is drawn most
    value = {name: draw(bad if name in odd else good) for name, (good, bad) in parts.items()}
    inputs, out = value.pop("inputs"), value.pop("-o")
    if out == SAME_AS_INPUT:
        out = inputs[0]
    elif out == SIDECAR_OF_INPUT:
        first = Path(inputs[0])
        out = str(first.with_name(first.stem + ".hints.png")) if inputs[0].startswith("in/") else "in"
    argv = ["colorize", *inputs, "-o", out]
    argv += [arg for flag in value.pop("--hint") for arg in ("--hint", flag)]
    argv += [arg for option, v in value.items() if v is not None for arg in (option, v)]
    if draw(st.booleans()):
        argv.append("--layers")
    return argv


def _snapshot(root: Path) -> dict[str, bytes | str | None]:
    """Every entry under ``root``: a file's bytes, a FIFO or a link as its kind, a folder as None."""
    def entry(p: Path):
        if p.is_symlink():
            return "link to " + os.readlink(p)
        return p.read_bytes() if p.is_file() else "fifo" if p.is_fifo() else None
    return {str(p.relative_to(root)): entry(p) for p in root.rglob("*")}


def _create(work: Path, files: dict[str, bytes]) -> None:
    for name, content in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        if content == FIFO:
            os.mkfifo(work / name)
        else:
            (work / name).write_bytes(content)
    (work / "out").mkdir(exist_ok=True)
    os.symlink("/dev/null", work / "out" / "link-to-null.png")


def _hang(signum, frame):
    raise TimeoutError(f"an invocation ran over {HANG_SECONDS} s: a hang")


@pytest.fixture(scope="module")
def shared_model():
    """Colorizer.from_pretrained answers one bundled demo model for the whole module."""
    from irodori.colorize.pipeline import Colorizer

    model = Colorizer.from_pretrained("demo")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny images: one thread is fastest, and leaves the other cores alone
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Colorizer, "from_pretrained", classmethod(lambda cls, *args, **kwargs: model))
        yield model
    torch.set_num_threads(threads)


def _run_once(files: dict[str, bytes], data, capsys, may_be_odd: tuple[str, ...] | None = None) -> None:
    work = Path(tempfile.mkdtemp(prefix="irodori-fuzz-"))
    cwd, threads = os.getcwd(), torch.get_num_threads()
    previous = signal.signal(signal.SIGALRM, _hang)
    try:
        _create(work, files)
        argv = data.draw(invocations(files, may_be_odd))
        before = _snapshot(work)
        os.chdir(work)
        signal.alarm(HANG_SECONDS)
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's refusal of an option value
            assert exc.code == 2, argv
            code = None
        finally:
            signal.alarm(0)
        stdout, stderr = capsys.readouterr()
        _check(work, before, argv, code, stdout, stderr)
    finally:
        signal.signal(signal.SIGALRM, previous)
        os.chdir(cwd)
        torch.set_num_threads(threads)
        shutil.rmtree(work, ignore_errors=True)


def _check(work: Path, before: dict, argv: list[str], code, stdout: str, stderr: str) -> None:
    assert "Traceback" not in stdout + stderr, (argv, stderr)
    if code is not None:
        assert code in (0, 1, 2), (argv, code, stderr)
        for line in stderr.splitlines():
            assert line.startswith(f"irodori {argv[0]}: "), (argv, stderr)
        if code == 2:
            assert stderr.strip(), argv
    after = _snapshot(work)
    for name, content in before.items():
        assert after.get(name, "gone") == content, (argv, f"{name} changed or vanished")
    for name in after.keys() - before.keys():
        assert name.startswith("out/"), (argv, f"{name} written outside out/")
        assert not (Path(name).name.startswith(".") and name.endswith(".tmp")), (argv, f"temp {name} left")
    for path in OUTSIDE[1:]:
        assert not os.path.exists(path), (argv, path)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode) and stat.S_ISCHR(os.stat("/dev/zero").st_mode), argv


FUZZ = settings(derandomize=True, database=None, deadline=None, max_examples=200,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


@FUZZ
@given(files=workspaces(), data=st.data())
def test_colorize_never_raises_or_writes_outside_its_output_folder(shared_model, capsys, files, data):
    _run_once(files, data, capsys)


@settings(FUZZ, max_examples=150)
@given(files=workspaces(), data=st.data())
def test_odd_input_and_output_paths_never_replace_an_input_or_write_outside(shared_model, capsys, files, data):
    _run_once(files, data, capsys, may_be_odd=PATH_PARTS)


@settings(FUZZ, max_examples=150)
@given(files=st.fixed_dictionaries({"file": st.just(b"x"), "in/a.png": good_image, "in/b.png": bad_image,
                                    "in/sub/a.png": good_image, "hints.json": hint_file}), data=st.data())
def test_a_batch_with_a_corrupt_image_never_raises_or_writes_outside_its_output_folder(shared_model, capsys,
                                                                                       files, data):
    _run_once(files, data, capsys)


#: The issue's reproducers (issue 27, F1 and F3-F8) as command lines in the fuzz workspace: each must end with
#: exit 0 or one error line, in time, writing nothing outside out/.
REPRODUCERS = [
    ["colorize", "la.tif", "-o", "out/la.png"],
    ["colorize", f"{LONG}.png", "-o", "out/x.png"],
    ["colorize", "in/a.png", "-o", f"out/{'c' * 252}.png"],
    ["colorize", "in/a.png", "-o", f"out/{'d' * 246}.png", "--layers"],
    ["colorize", "in/a.png", "-o", "e/" * 2500 + "x.png"],
    ["colorize", f"in/{LEGAL}.png", "-o", "out/f.png"],
    ["colorize", "in/a.png", "-o", f"out/{LEGAL}.png"],
    ["colorize", "in/a.png", "-o", "out/link-to-null.png"],
    ["colorize", "in/a.png", "-o", "fifo.png"],
    ["colorize", "fifo.png", "-o", "out/"],
    ["colorize", "in/a.png", "--hints", "bom.json", "-o", "out/bom.png"],
    ["colorize", "in/a.png", "--hints", "/dev/null", "-o", "out/n.png"],
    ["colorize", "in/a.png", "--hints", "/dev/zero", "-o", "out/z.png"],
    ["colorize", "in/a.png", "--hints", "fifo.json", "-o", "out/f.png"],
    ["colorize", "in/a.png", "--resolution", "\uff16\uff14", "-o", "out/r.png"],
    ["info", "--preset", "fifo.json"],
]


@pytest.mark.parametrize("argv", REPRODUCERS, ids=lambda argv: " ".join(argv)[:60])
def test_every_reproducer_of_the_issue_ends_in_time_with_one_line_and_writes_only_its_outputs(shared_model, capsys,
                                                                                             argv):
    import tifffile

    la = io.BytesIO()
    tifffile.imwrite(la, np.full((32, 32, 2), 255, np.uint8), photometric="minisblack", extrasamples=["assocalpha"])
    files = {"file": b"x", "in/a.png": GOOD[0], f"in/{LEGAL}.png": GOOD[0], f"{LONG[:200]}.png": GOOD[0],
             "la.tif": la.getvalue(), "bom.json": b"\xef\xbb\xbf" + json.dumps([{"x": 2, "y": 2, "color": "#ff0000"}]).encode(),
             "fifo.png": FIFO, "fifo.json": FIFO, "hints.json": b"[]"}
    _run_once(files, FixedDraw(argv), capsys)


class FixedDraw:
    """Stands in for hypothesis' ``data``: hands back one fixed command line."""

    def __init__(self, argv):
        self.argv = argv

    def draw(self, _strategy):
        return self.argv
