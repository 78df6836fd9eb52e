"""Where ``irodori colorize`` writes: every input's output paths, planned and checked before any image is colored.

``-o`` names a file when it ends in a writable image suffix (:data:`irodori.colorize.imageio.OUTPUT_FORMATS`) and
there is one input; otherwise a folder. In a folder each output is ``OUT/SUB/STEM.png``, ``SUB`` the image's
sub-folder within the input folder it was found in (none for a file named on the command line). When two
inputs would get the same output name (``x.png`` and ``x.jpg`` side by side, or their layer files), both keep
their whole file name: ``x.png.png`` and ``x.jpg.png``; outputs that still collide are refused.

No output may be an input, an input's hint sidecar or the ``--hints`` file, nor a folder, a device, a FIFO or
a socket, nor lie under a file, nor have a name over the file system's limits; a symlink is written through
(the file it points to is replaced, and is checked like any output). A refusal is an :class:`~irodori.errors.InputError` (exit 2) raised before anything is written.
"""

from __future__ import annotations

import os
import stat
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from irodori.colorize.imageio import OUTPUT_FORMATS, find_images
from irodori.errors import InputError
from irodori.colorize.layerfile import LAYER_FORMATS, LAYER_PNGS
from irodori.userfiles import kind, name_problem, output_problem, shown

SIDECARS = (".hints.json", ".hints.png")
#: Layer outputs next to ``STEM.png`` with ``--layers``: the layered files, then one PNG per layer.
LAYER_SUFFIXES = (*LAYER_FORMATS, *(f".{name}.png" for name in LAYER_PNGS))
#: Image endings that cannot be written, with the reason shown.
_REFUSED = {".gif": "GIF holds at most 256 colors (a palette) and would lose the colors"}
#: Image endings Pillow does not register but a user may type; refused rather than taken for a folder name.
_OTHER_IMAGE_SUFFIXES = (".ora", ".svg", ".heic", ".heif", ".jxl", ".avif", ".exr", ".hdr", ".kra", ".xcf",
                         ".raw", ".dng", ".cr2", ".nef")


@dataclass(frozen=True)
class Source:
    """One line art to color: its ``path``, and the input folder it was found in (None: named directly)."""

    path: Path
    root: Path | None = None

    def relative_parent(self) -> Path:
        return self.path.parent.relative_to(self.root) if self.root is not None else Path()


@dataclass(frozen=True)
class Job:
    """One input and every path its outputs go to (``files[0]`` the colored image, then the layers)."""

    source: Source
    files: tuple[Path, ...]

    @property
    def target(self) -> Path:
        return self.files[0]


def collect(inputs: list[str], hint_files: tuple[Path, ...] = (), out: str | None = None) -> list[Source]:
    """The images named (files) or found (recursively in folders; hint sidecars, ``hint_files`` and anything
    under the output folder ``out`` left out, so a rerun into ``d/colored`` does not color its own results);
    each file once."""
    sources, seen = [], set()
    hints = {os.path.realpath(h) for h in hint_files}
    skip_under = os.path.realpath(out) + os.sep if out and out.strip() and "\0" not in out else None  # NUL: refused later

    def wanted(f: Path, skip: str | None) -> bool:
        real = os.path.realpath(f)
        return not f.name.endswith(SIDECARS) and f.is_file() and real not in hints and not (skip and real.startswith(skip))

    for item in inputs:
        path = Path(item)
        mode = _mode(item)
        if mode is not None and stat.S_ISDIR(mode):
            # only an output folder strictly inside this one is skipped (-o = the folder itself is refused later)
            inside = skip_under and not (os.path.realpath(path) + os.sep).startswith(skip_under)
            found = [Source(f, path) for f in find_images(path) if wanted(f, skip_under if inside else None)]
            if not found:
                raise InputError(f"{path}: no images found in this folder")
        elif mode is not None and stat.S_ISREG(mode):
            found = [Source(path)]
        elif mode is not None:
            raise InputError(f"{shown(path)} is {kind(mode)}, not an image file or a folder")
        else:
            raise InputError(f"{shown(path)}: {name_problem(item) or 'no such file or folder'}")
        for source in found:
            key = os.path.realpath(source.path)
            if key not in seen:
                seen.add(key)
                sources.append(source)
    return sources


def _mode(path: str) -> int | None:
    """``path``'s ``stat`` mode (through symlinks), None when it names nothing (or cannot name anything)."""
    if name_problem(path):
        return None
    try:
        return os.stat(path).st_mode
    except OSError:
        return None


def names_a_file(out: str) -> bool:
    """Whether ``-o OUT`` names an image file (a writable image suffix) rather than a folder; an image
    suffix that cannot be written, and an empty ``OUT``, are refused."""
    if not out.strip():
        raise InputError("-o is empty: give an output file or folder")
    if "\0" in out:
        raise InputError("-o contains a NUL character")
    problem = name_problem(out)
    if problem:
        raise InputError(f"-o {shown(out)}: {problem}")
    if out.endswith(("/", os.sep)):
        return False
    suffix = Path(out).suffix.lower()
    if suffix in OUTPUT_FORMATS:
        return True
    writable = ", ".join(OUTPUT_FORMATS)
    if suffix in _REFUSED:
        raise InputError(f"-o {out}: {_REFUSED[suffix]}; write one of {writable}")
    if suffix and (suffix in _image_suffixes() or suffix in _OTHER_IMAGE_SUFFIXES):
        raise InputError(f"-o {out}: cannot write {suffix} images; write one of {writable}, or name a folder")
    return False


def _image_suffixes() -> set[str]:
    from PIL import Image

    return set(Image.registered_extensions())


def output_files(target: Path, layers: bool) -> tuple[Path, ...]:
    """``target`` and, with ``layers``, the layer outputs named after it (``STEM`` + :data:`LAYER_SUFFIXES`)."""
    if not layers:
        return (target,)
    stem = target.with_suffix("")
    return (target, *(stem.with_name(stem.name + suffix) for suffix in LAYER_SUFFIXES))


def plan(sources: list[Source], out: str, layers: bool, protected: list[Path] = ()) -> list[Job]:
    """Every source's output paths (see the module doc), checked; ``protected``: more files never to
    overwrite (the ``--hints`` file)."""
    to_file = names_a_file(out)
    out_path = Path(out)
    if to_file and len(sources) > 1:
        raise InputError(f"-o {out} names a file but there are {len(sources)} inputs; give a folder")
    if to_file:
        jobs = [Job(sources[0], output_files(out_path, layers))]
    else:
        _check_folder(out_path, sources)
        jobs = _folder_jobs(sources, out_path, layers)
    _check_writable(jobs)
    _check_not_inputs(jobs, sources, protected)
    return jobs


def _check_folder(out: Path, sources: list[Source]) -> None:
    if out.exists() and not out.is_dir():
        raise InputError(f"-o {out} exists and is not a folder; name a folder, or an image file "
                         f"({', '.join(OUTPUT_FORMATS)}) for a single input")
    for root in {s.root for s in sources if s.root is not None}:
        if os.path.realpath(root) == os.path.realpath(out):
            raise InputError(f"-o {out} is the input folder {root}: the outputs would replace the line art; "
                             "give another folder")


def _folder_jobs(sources: list[Source], out: Path, layers: bool) -> list[Job]:
    """``OUT/SUB/STEM.png`` each; the inputs whose outputs collide keep their whole name; collisions left refused."""
    keep_name = [False] * len(sources)
    for _ in range(2):  # a second round only for names that became equal by keeping the extension
        jobs = [_job(s, out, keep, layers) for s, keep in zip(sources, keep_name)]
        clashing = _clashes(jobs)
        if not clashing:
            return jobs
        for i in clashing:
            keep_name[i] = True
    path, first, second = _first_clash(jobs)
    raise InputError(f"{first} and {second} would both be written to {path}; colorize them into different "
                     "folders")


def _job(source: Source, out: Path, keep_name: bool, layers: bool) -> Job:
    name = (source.path.name if keep_name else source.path.stem) + ".png"
    return Job(source, output_files(out / source.relative_parent() / name, layers))


def _owners(jobs: list[Job]) -> dict[str, list[int]]:
    owners = defaultdict(list)
    for i, job in enumerate(jobs):
        for path in job.files:
            owners[os.path.normpath(path)].append(i)
    return owners


def _clashes(jobs: list[Job]) -> set[int]:
    return {i for indices in _owners(jobs).values() if len(indices) > 1 for i in indices}


def _first_clash(jobs: list[Job]) -> tuple[str, Path, Path]:
    path, indices = next((p, ix) for p, ix in _owners(jobs).items() if len(ix) > 1)
    return path, jobs[indices[0]].source.path, jobs[indices[1]].source.path


def _check_writable(jobs: list[Job]) -> None:
    """Every output name fits the file system, none lies below an existing file, and none is an existing
    folder, device, FIFO or socket (a symlink is judged by what it points to: outputs are written through)."""
    checked = set()
    for job in jobs:
        for path in job.files:
            problem = name_problem(path)
            if problem:
                raise InputError(f"cannot write {shown(path)}: {problem}")
            for parent in path.parents:
                if parent in checked or parent.is_dir():
                    checked.add(parent)
                    break
                if parent.exists() or parent.is_symlink():
                    raise InputError(f"cannot write {shown(path)}: {shown(parent)} is not a folder")
            problem = output_problem(path)
            if problem:
                raise InputError(f"cannot write {shown(path)}: {problem}")


def _check_not_inputs(jobs: list[Job], sources: list[Source], protected) -> None:
    """No output path is (the same file as) an input, an input's hint sidecar (whether it exists or not: a new
    one would change the next run), or a ``protected`` file."""
    guarded = {}
    for source in sources:
        guarded[source.path] = "an input"
        for suffix in SIDECARS:
            guarded[source.path.with_name(source.path.stem + suffix)] = "the name of a hint sidecar of " + str(
                source.path)
    for path in protected:
        guarded[Path(path)] = "the hint file"
    real = {os.path.realpath(p): why for p, why in guarded.items()}
    inodes = {_inode(p): why for p, why in guarded.items() if _inode(p) is not None}
    for job in jobs:
        for path in job.files:
            why = real.get(os.path.realpath(path)) or inodes.get(_inode(path))
            if why:
                raise InputError(f"refusing to write {path}: it is {why}; choose another -o")


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino
