"""The GPU stage in one device call: Table 1's rows and the bundled model's next stage, trained in lockstep on
the compact pack, exported, and folded into at most 8 files under ``$OUT`` (the device tool's return limits).

On the GPU machine (repository root; ``carry: [".gpu/pack"]``; ``timeout_s: 600``)::

    python3 benchmarks/gpu_plan.py train --out "$OUT"

Here, on what came back (``files_at`` of that call)::

    .venv/bin/python benchmarks/gpu_plan.py unpack FILES_AT runs/gpu
    irodori table1 --rows demo-256 --models runs/gpu/models --eval-data data/corpus --out docs

What ``train`` does, in one process (torch imported once):

1. ``irodori train-group`` over every row of :data:`ROWS` and the bundled model's next stage two ways
   (:data:`STAGES`: ``demo-256`` and ``demo-256-region``, both from the bundled weights, their lineage
   continued), on the same batches, ``train.steps`` 3,000 with the decay over the last 40%, ``--time-limit``
   :data:`TRAIN_S` and ``--fit`` (the first steps are timed and the steps lowered to what ends before the
   limit, the decay scaled with them: no GPU minute is spent finding the speed);
2. exports: every run's EMA generator at 8 bits per output channel (``irodori export --int8``: a fifth of
   float32; the transport costs 0.002 dB of Hint-AUC PSNR, docs/table1.md). Two stages in float16 beside the
   rows would be ~72 MB, over the 64 MiB that a call can return;
3. folds the exports, each run's ``config.yaml`` and TensorBoard logs, ``group.json`` and the log into
   ``back.tar.N`` parts of 15 MiB and ``back.json`` (sha256 of each part; what was left out, if anything did
   not fit: the exports come first, the stage before the rows, TensorBoard logs last). A failure in training
   still exports and folds what exists; the exit status is 0 when training ended and every model came back.

Plan (one H200; the last GPU run: ``demo-256`` alone at batch 64 trained 945 images/s with 14 loader workers,
~18 steps/s without data loading): one step of every run = 64 images through each. Per image, one training
step costs 3 x G's forward + ~10 x D's forward (1.26 GMACs at 256 px): demo-256 24.5 GMACs, no attention 23.0,
pix2pixHD-style 29.5, AlacGAN-style 52.7 (WGAN-GP's penalty adds ~4 D forwards), the stage 24.5: 6.3 x
demo-256's step together. At ~55 ms per demo-256 step (18 steps/s) a step of the group takes ~0.35 s, so the
~480 s left of :data:`TRAIN_S` after start-up fit ~1,350 steps x 64 per run: **3,000 steps x 64 each do not
fit** in one 10-minute call (that would take ~17 minutes). One loader feeds all runs: ~180 images/s, a fifth
of what 14 workers gave. ``--fit`` sets the real count from the measured speed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tarfile
import time
import traceback
from pathlib import Path

ROWS = ("demo-256", "demo-256-no-attention", "demo-256-pix2pixhd", "demo-256-alacgan")
#: The bundled model's next stage, two ways, from the same release weights: as trained so far, and with the
#: region loss (``demo-256-region``). The promotion gate picks on the validation split.
STAGES = (("stage", "demo-256"), ("stage-region", "demo-256-region"))
STAGE_INIT = "src/irodori/assets/models/demo.safetensors"
TRAIN_S = 510            # the training's time limit, from its start (the call's limit is 600 s)
STEPS, DECAY = 3000, 1200
PART_BYTES = 15 * 2**20  # each returned file under the 16 MiB limit
MAX_BACK = 63 * 2**20    # all returned files under 64 MiB
MAX_PARTS = 7            # + back.json: 8 files


def train_argv(args) -> list[str]:
    argv = ["train-group", "--out", str(args.work / "runs"), "--device", args.device, "--time-limit",
            str(args.train_s), "--fit", f"data.root={args.pack}", f"data.num_workers={args.workers}",
            f"train.steps={args.steps}", f"train.lr_decay_steps={args.decay}", "train.ckpt_every=500",
            "train.log_every=50", "train.sample_every=100000", *(["train.keep=8"] if args.snapshots else []),
            *args.extra]
    for row in args.rows:
        argv += ["--run", f"{row}={row}"]
    for name, preset in _stages(args):
        argv += ["--run", f"{name}={preset}", "--init", f"{name}={args.stage_init}"]
    return argv


def _stages(args) -> list[tuple[str, str]]:
    """The stages this call trains: those named by ``--stages``, none without ``--stage-init``."""
    return [(n, p) for n, p in STAGES if n in args.stages] if args.stage_init else []


def export_all(runs: Path, back: Path, rows, stages, log, snapshots: bool = False) -> list[tuple[str, Path]]:
    """Exports and run records as (name in the tar, file), in the order they are kept when space runs out."""
    from irodori.checkpoint import kept_checkpoints
    from irodori.release import export_release

    files = []
    exports = [(s, None) for s, _ in stages] + [(r, None) for r in rows]
    if snapshots:  # every earlier checkpoint of each stage too, so that the gate can take the best on val
        exports += [(s, c) for s, _ in stages for _, c in kept_checkpoints(runs / s / "checkpoints")[:0:-1]]
    int8 = len(exports) > 2  # two models fit in float16; more (two stages and the rows) only at 8 bits
    for name, checkpoint in exports:
        try:
            label = name if checkpoint is None else f"{name}-s{int(checkpoint.stem.split('-')[1])}"
            out, step = export_release(runs / name, back / "models" / f"{label}.safetensors", fp16=not int8,
                                       int8=int8, checkpoint=checkpoint)
            log(f"exported {label} at step {step} ({'int8' if int8 else 'float16'})")
            files += [(f"models/{out.name}", out), (f"models/{out.with_suffix('.json').name}", out.with_suffix(".json"))]
        except Exception as exc:  # noqa: BLE001 - keep folding what exists
            log(f"export of {name} failed: {exc}")
    run_dirs = sorted(p for p in runs.iterdir() if p.is_dir()) if runs.is_dir() else []
    files += [(f"runs/{r.name}/config.yaml", r / "config.yaml") for r in run_dirs if (r / "config.yaml").is_file()]
    for run in run_dirs:  # TensorBoard logs last: the first to be left out when space runs short
        files += [(f"runs/{run.name}/{f.relative_to(run)}", f) for f in sorted((run / "tb").rglob("*")) if f.is_file()]
    return files


def fold(files: list[tuple[str, Path]], out: Path, work: Path, part_bytes: int = PART_BYTES,
         max_back: int = MAX_BACK, max_parts: int = MAX_PARTS) -> dict:
    """Tar ``files`` (in order, while they fit) and split the tar into ``out/back.tar.N``; write ``back.json``."""
    budget = min(max_back, part_bytes * max_parts) - tarfile.RECORDSIZE  # the tar's end blocks and padding
    kept, left_out, total = [], [], 0
    for arc, path in files:
        size = tarfile.BLOCKSIZE * (1 + -(-path.stat().st_size // tarfile.BLOCKSIZE))  # a header, blocks of data
        if total + size > budget:
            left_out.append(arc)
            continue
        kept.append((arc, path))
        total += size
    tar_path = work / "back.tar"
    with tarfile.open(tar_path, "w") as tar:
        for arc, path in kept:
            tar.add(path, arcname=arc)
    parts = []
    with open(tar_path, "rb") as fh:
        while chunk := fh.read(part_bytes):
            part = out / f"back.tar.{len(parts)}"
            part.write_bytes(chunk)
            parts.append({"name": part.name, "bytes": len(chunk), "sha256": hashlib.sha256(chunk).hexdigest()})
    tar_path.unlink()
    summary = {"parts": parts, "members": [a for a, _ in kept], "left_out": left_out}
    (out / "back.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def unpack(files_at: Path, dest: Path) -> dict:
    """Check every part's sha256, join them and extract the tar into ``dest`` (no path may leave it)."""
    summary = json.loads((files_at / "back.json").read_text())
    dest.mkdir(parents=True, exist_ok=True)
    joined = dest / ".back.tar"
    with open(joined, "wb") as fh:
        for p in summary["parts"]:
            data = (files_at / p["name"]).read_bytes()
            if hashlib.sha256(data).hexdigest() != p["sha256"]:
                raise SystemExit(f"{p['name']}: sha256 differs from back.json: the transfer is broken")
            fh.write(data)
    with tarfile.open(joined) as tar:
        tar.extractall(dest, filter="data")
    joined.unlink()
    return summary


def run_train(args) -> int:
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    log_path = args.work / "gpu_plan.log"
    logf = open(log_path, "a", buffering=1)

    def log(msg: str) -> None:
        print(msg, flush=True)
        logf.write(msg + "\n")

    t0 = time.monotonic()
    argv = train_argv(args)
    log("irodori " + " ".join(argv))
    rc = 1
    try:
        from irodori.cli import main

        rc = main(argv)
    except BaseException:  # noqa: BLE001 - whatever happened, export and fold what exists
        log(traceback.format_exc())
    log(f"training returned {rc} after {time.monotonic() - t0:.0f} s")
    files = export_all(args.work / "runs", args.work / "back", args.rows, _stages(args), log, args.snapshots)
    group = args.work / "runs" / "group.json"
    extra = [("group.json", group)] if group.is_file() else []
    log(f"folding after {time.monotonic() - t0:.0f} s")
    logf.flush()
    summary = fold([*extra, ("gpu_plan.log", log_path), *files], args.out, args.work)
    log(f"back: {len(summary['parts'])} parts, {sum(p['bytes'] for p in summary['parts']) / 2**20:.1f} MiB; "
        f"left out: {summary['left_out'] or 'nothing'}; {time.monotonic() - t0:.0f} s in all")
    exported = sum(a.endswith(".safetensors") for a in summary["members"])
    return 0 if rc == 0 and exported >= len(args.rows) + len(_stages(args)) else 1


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="on the GPU machine: train, export, fold into OUT")
    t.add_argument("--out", type=Path, required=True, help="the device call's $OUT")
    t.add_argument("--work", type=Path, default=Path("/tmp/irodori-gpu"), help="run directories (not returned)")
    t.add_argument("--pack", default=".gpu/pack", help="the compact pack (python -m irodori.data.sources.pack)")
    t.add_argument("--device", default="cuda")
    t.add_argument("--train-s", type=float, default=TRAIN_S)
    t.add_argument("--steps", type=int, default=STEPS)
    t.add_argument("--decay", type=int, default=DECAY)
    t.add_argument("--workers", type=int, default=14)
    t.add_argument("--rows", nargs="*", default=list(ROWS))
    t.add_argument("--stage-init", default=STAGE_INIT, help="the stages' starting weights ('' for no stage)")
    t.add_argument("--stages", nargs="*", default=[n for n, _ in STAGES], choices=[n for n, _ in STAGES],
                   help="which of the stages to train (a solo stage trains several times faster than the group)")
    t.add_argument("--snapshots", action="store_true",
                   help="also export each stage's earlier checkpoints (train.ckpt_every apart, train.keep of them)")
    t.add_argument("--extra", nargs="*", default=[], metavar="KEY=VALUE", help="more overrides (the CPU dry run)")
    u = sub.add_parser("unpack", help="here: check and extract what came back")
    u.add_argument("files_at", type=Path)
    u.add_argument("dest", type=Path)
    args = p.parse_args(argv)
    if args.cmd == "unpack":
        s = unpack(args.files_at, args.dest)
        print(f"unpacked {len(s['members'])} files into {args.dest}; left out on the machine: {s['left_out'] or 'none'}")
        return 0
    if not (Path(args.pack) / "pack.json").is_file():
        print(f"no complete pack at {args.pack} (python -m irodori.data.sources.pack CORPUS {args.pack})",
              file=sys.stderr)
        return 2
    return run_train(args)


if __name__ == "__main__":
    sys.exit(main())
