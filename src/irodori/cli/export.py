"""``irodori export``: release weights (EMA generator) from a run directory."""

from __future__ import annotations

import json
import os
from pathlib import Path

from irodori.config import whole_number
from irodori.errors import InputError


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="write release weights (EMA generator) from a run directory",
                       description="Write the EMA generator of RUN_DIR's newest checkpoint as safetensors, "
                                   "and its config as JSON next to it (same name, .json). --out must end in "
                                   ".safetensors, lie outside RUN_DIR's checkpoints/ and tb/ folders, and not "
                                   "name a folder, a device or a FIFO; an existing .json next to it is replaced "
                                   "only if it is a release's config. A symlink is written through.")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--out", required=True, metavar="FILE.safetensors")
    precision = p.add_mutually_exclusive_group()
    precision.add_argument("--fp16", action="store_true", help="store weights in float16 (half the size)")
    precision.add_argument("--int8", action="store_true",
                           help="store weights at 8 bits with a scale per output channel (a quarter of the size; "
                                "a transport format, e.g. back from a GPU machine; loads as float32)")
    p.add_argument("--step", type=whole_number, metavar="N",
                   help="export the kept checkpoint of step N instead of the newest (see RUN_DIR/checkpoints/)")
    p.add_argument("--native-size", type=whole_number, metavar="PX",
                   help="the working long side colorizing uses by default (default: the run's data.size; give "
                        "the drawings' size for a stage trained on crops of them)")


#: Folders of a run that hold its own state: an export never writes into them.
RUN_FOLDERS = ("checkpoints", "tb")


def release_out(out: str) -> Path:
    """A release's ``--out`` checked before anything is loaded or written: a ``.safetensors`` name that can be
    written, whose ``.json`` is new or an earlier release's config."""
    from irodori.release import config_path_for
    from irodori.userfiles import output_problem, shown

    if not out.strip():
        raise InputError("--out is empty: give a FILE.safetensors")
    path = Path(out)
    if path.suffix.lower() != ".safetensors":
        raise InputError(f"--out {shown(out)}: the weights file must end in .safetensors")
    for target in (path, config_path_for(path)):
        problem = output_problem(target)
        if problem:
            raise InputError(f"cannot write {shown(target)}: {problem}")
    _check_old_config(config_path_for(path))
    return path


def check_out(run_dir: str, out: str) -> Path:
    """:func:`release_out`, and not inside the run's own folders."""
    from irodori.release import config_path_for
    from irodori.userfiles import shown

    path = release_out(out)
    for target in (path, config_path_for(path)):
        real = os.path.realpath(target)
        for folder in RUN_FOLDERS:
            inside = os.path.realpath(Path(run_dir) / folder) + os.sep
            if real.startswith(inside):
                raise InputError(f"refusing to write {shown(target)}: it lies in the run's own {folder}/ folder; "
                                 "choose another --out")
    return path


def _check_old_config(path: Path) -> None:
    """An existing file where the release's .json goes must be an earlier release's config (it is replaced)."""
    from irodori.userfiles import read_text, shown

    if not path.exists():
        return
    try:
        meta = json.loads(read_text(path, "file"))
    except (InputError, ValueError):
        meta = None
    if not (isinstance(meta, dict) and "config" in meta and "dtype" in meta):
        raise InputError(f"refusing to replace {shown(path)}: it is not a release's config (the .json written "
                         "next to the weights); choose another --out")


def kept_checkpoint(run_dir: str, step: int) -> Path:
    """The run's checkpoint file of ``step``, or one line naming the steps it keeps."""
    from irodori.checkpoint import kept_checkpoints

    folder = Path(run_dir) / "checkpoints"
    kept = dict(kept_checkpoints(folder)) if folder.is_dir() else {}
    if step not in kept:
        steps = ", ".join(str(s) for s in sorted(kept)) or "none"
        raise InputError(f"{run_dir} keeps no checkpoint of step {step} (kept: {steps})")
    return kept[step]


def run(args) -> int:
    from irodori.release import export_release

    from irodori.config import RESOLUTION_RANGE

    if args.native_size is not None and not RESOLUTION_RANGE[0] <= args.native_size <= RESOLUTION_RANGE[1]:
        raise InputError(f"--native-size must lie in {RESOLUTION_RANGE[0]}..{RESOLUTION_RANGE[1]}, got {args.native_size}")
    check_out(args.run_dir, args.out)
    path, step = export_release(args.run_dir, args.out, args.fp16, args.int8, args.native_size,
                                checkpoint=None if args.step is None else kept_checkpoint(args.run_dir, args.step))
    print(f"wrote {path} and {path.with_suffix('.json')} (EMA generator at step {step})")
    return 0
