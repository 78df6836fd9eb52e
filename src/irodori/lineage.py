"""Where a model's weights come from: a list of training stages, carried from run to run.

Each stage is ``{init_from, steps, preset, data, date}``: the sha256 of the release weights the stage
started from (None for random initialisation), the steps it trained, its preset name, its data
(dataset, the root folder's base name, the sources), and the UTC time it started. A blend
(:func:`irodori.release.blend_releases`) is a stage of 0 steps that also names the weights blended in and
their share (``blend: {with, weight}``). A run started
with ``--init-from`` copies the source release's lineage and appends its own stage; the lineage
lives in the training checkpoints (so resuming keeps it) and in every release's metadata.
"""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

from irodori.config import Config


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def data_summary(cfg: Config) -> dict:
    """The stage's data in a few words: dataset, the root's base name (not the machine's path), sources."""
    data = cfg.to_dict()["data"]
    root = (data.get("root") or "") if data["dataset"] != "synthetic" else ""  # synthetic reads no files
    return {"dataset": data["dataset"], "root": Path(root).name if root else "", "sources": data.get("sources") or {}}


def new_stage(cfg: Config, init_from: str | Path | None = None, steps: int = 0) -> dict:
    return {
        "init_from": file_sha256(init_from) if init_from is not None else None,
        "steps": int(steps),
        "preset": cfg.name,
        "data": data_summary(cfg),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def release_lineage(weights: str | Path) -> list[dict]:
    """The lineage recorded in a release's JSON (next to its weights); [] for releases made before lineage."""
    try:
        meta = json.loads(Path(weights).with_suffix(".json").read_text())
    except (OSError, ValueError):
        return []
    lineage = meta.get("lineage") if isinstance(meta, dict) else None
    return [dict(s) for s in lineage] if isinstance(lineage, list) else []


def start_lineage(cfg: Config, init_from: str | Path | None = None) -> list[dict]:
    """The lineage of a new run: the source release's stages (if any), then this run's stage."""
    parent = release_lineage(init_from) if init_from is not None else []
    return parent + [new_stage(cfg, init_from)]


def with_steps(lineage: list[dict], steps: int) -> list[dict]:
    """A copy of ``lineage`` whose last stage (the current run's) has trained ``steps`` steps."""
    out = copy.deepcopy(list(lineage))
    if out:
        out[-1]["steps"] = int(steps)
    return out


def blend_stage(cfg: Config, first: str | Path, second: str | Path, weight: float) -> dict:
    """The stage a blend appends to ``first``'s lineage: no training, ``weight`` of ``first`` (its sha256 in
    ``init_from``) and the rest of ``second`` (``blend.with``)."""
    stage = new_stage(cfg, first)
    stage.update(preset="blend", data={}, blend={"with": file_sha256(second), "weight": float(weight)})
    return stage
