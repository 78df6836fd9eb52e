"""Release weights: the EMA generator as safetensors plus a JSON config the pipeline loads."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from irodori.config import Config, config_from_dict
from irodori.errors import IrodoriError
from irodori.models import FROZEN_VGG_PREFIX, build_generator
from irodori import checkpoint as ckpt
from irodori.atomic import atomic_write_bytes, atomic_write_text
from irodori.lineage import blend_stage, new_stage, with_steps


def config_path_for(weights: Path) -> Path:
    return Path(weights).with_suffix(".json")


#: A release stored at 8 bits (``irodori export --int8``): a transport format for bringing weights back from
#: a machine whose output is capped; loading restores float32 weights (within half a step of each channel).
INT8 = "int8-per-channel"
_SCALE = ".int8_scale"


def quantize_int8(tensors: dict) -> dict:
    """Float tensors of 2+ dimensions as int8 with one float32 scale per output channel (``NAME.int8_scale``,
    the channel's largest magnitude / 127); other float tensors as float16; the rest as they are."""
    out = {}
    for k, v in tensors.items():
        if v.is_floating_point() and v.ndim >= 2:
            v = v.float()
            scale = v.abs().flatten(1).amax(1).clamp_min(1e-12) / 127
            out[k] = torch.round(v / scale.view(-1, *[1] * (v.ndim - 1))).to(torch.int8)
            out[k + _SCALE] = scale
        else:
            out[k] = v.half() if v.is_floating_point() else v
    return out


def dequantize_int8(tensors: dict) -> dict:
    """The float32 tensors of :func:`quantize_int8`'s output."""
    out = {}
    for k, v in tensors.items():
        if k.endswith(_SCALE):
            continue
        scale = tensors.get(k + _SCALE)
        out[k] = v.float() * scale.view(-1, *[1] * (v.ndim - 1)) if scale is not None else v
    return out


def save_release(state_dict: dict, cfg: Config, out: str | Path, *, fp16: bool = False, int8: bool = False,
                 **meta) -> Path:
    """Write a generator ``state_dict`` as safetensors and its config as JSON next to it, atomically.

    ``meta`` entries go into both; ``lineage`` (see :mod:`irodori.lineage`) defaults to one stage
    of ``cfg`` with ``step`` steps. ``int8``: the :data:`INT8` transport format.
    """
    out = Path(out)
    tensors = {k: (v.half() if fp16 and v.is_floating_point() else v).detach().cpu().contiguous()
               for k, v in state_dict.items()
               if not k.startswith(FROZEN_VGG_PREFIX)}
    if int8:
        tensors = {k: v.contiguous() for k, v in quantize_int8(tensors).items()}
    if meta.get("lineage") is None:  # weights made outside a training run: one stage, this config's
        meta["lineage"] = [new_stage(cfg, steps=int(meta.get("step") or 0))]
    meta = {"config": cfg.to_dict(), "dtype": INT8 if int8 else "float16" if fp16 else "float32", **meta}
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, lambda f: f.write(save(tensors, metadata={"irodori": json.dumps(meta)})))
    atomic_write_text(config_path_for(out), json.dumps(meta, indent=1))
    return out


def newest_checkpoint(run_dir: str | Path) -> tuple[dict, Path]:
    """The newest readable checkpoint of a training run and its path; IrodoriError when there is none."""
    ckpt_dir = Path(run_dir) / "checkpoints"
    found = ckpt.load_latest(ckpt_dir)
    if found is None:
        raise IrodoriError(f"no readable checkpoint in {ckpt_dir}")
    return found


def load_run_generator(run_dir: str | Path, device: str | torch.device = "cpu") -> tuple[Config, torch.nn.Module, dict]:
    """A training run's newest EMA generator; returns (config, generator in eval mode, metadata)."""
    state, latest = newest_checkpoint(run_dir)
    cfg = config_from_dict(state["config"])
    G = build_generator(cfg.generator)
    G.load_state_dict(state["G_ema"])
    return cfg, G.to(device).eval().requires_grad_(False), {"step": state["step"], "source": str(latest)}


def export_release(run_dir: str | Path, out: str | Path, fp16: bool = False, int8: bool = False,
                   native_size: int | None = None, checkpoint: str | Path | None = None) -> tuple[Path, int]:
    """Write the newest checkpoint's EMA generator (or ``checkpoint``'s, one file of the run's) to ``out``
    (+ ``out`` with .json); returns (path, step).

    ``native_size``: the working long side the pipeline uses by default (the scale of the drawings the
    model was trained on); default the run's ``data.size``. A stage trained on crops of larger drawings
    (``data.crop_scale`` < 1) keeps the scale of those drawings, not of its crops."""
    if checkpoint is None:
        state, latest = newest_checkpoint(run_dir)
    else:
        state, latest = ckpt.load_checkpoint(Path(checkpoint)), Path(checkpoint)
    cfg = config_from_dict(state["config"])
    step = int(state["step"])
    lineage = with_steps(state.get("lineage") or [new_stage(cfg)], step)
    path = save_release(state["G_ema"], cfg, out, fp16=fp16, int8=int8, step=step, source=latest.name,
                        irodori=state.get("irodori", ""), lineage=lineage,
                        native_size=int(native_size or cfg.data.size))
    return path, step


def export_any(source: str | Path, out: str | Path, native_size: int | None = None) -> tuple[Path, int]:
    """A run directory (its newest EMA generator) or a release file (a GPU call's 8-bit transport, say)
    written to ``out`` as a float16 release with its lineage as it is; returns (path, step)."""
    source = Path(source)
    if not source.exists():
        raise IrodoriError(f"{source} does not exist: give a training run's folder or a release's .safetensors")
    if not source.is_file():
        return export_release(source, out, fp16=True, native_size=native_size)
    cfg, G, meta = load_release(source)
    keep = {k: meta[k] for k in ("step", "source", "irodori", "lineage") if k in meta}
    size = int(native_size or meta.get("native_size") or cfg.data.size)
    return save_release(G.state_dict(), cfg, out, fp16=True, native_size=size, **keep), int(meta.get("step") or 0)


def _generator_of(meta: dict) -> dict | None:
    """The generator section of a release's config with today's defaults filled in (older releases
    predate some options), or None when it cannot be read."""
    try:
        return config_from_dict(meta["config"]).to_dict()["generator"]
    except (KeyError, TypeError, IrodoriError):
        return None


def load_generator_weights(G: torch.nn.Module, path: str | Path, cfg: Config) -> dict:
    """Load release weights into an already built generator ``G`` whose generator config must match."""
    path = Path(path)
    try:
        meta = json.loads(config_path_for(path).read_text())
        tensors = load_file(str(path))
    except (ValueError, KeyError, SafetensorError, OSError) as exc:
        raise IrodoriError(f"cannot load model {path}: {exc}") from exc
    if meta.get("dtype") == INT8:
        tensors = dequantize_int8(tensors)
    if _generator_of(meta) != cfg.to_dict()["generator"]:
        raise IrodoriError(f"{path} holds a different generator than this config's")
    own = G.state_dict()
    expected = {k for k in own if not k.startswith(FROZEN_VGG_PREFIX)}
    if set(tensors) != expected:
        raise IrodoriError(f"{path} does not match its config: missing {sorted(expected - set(tensors))[:3]}, "
                           f"unexpected {sorted(set(tensors) - expected)[:3]}")
    G.load_state_dict({**own, **{k: v.to(own[k].dtype) for k, v in tensors.items()}})
    return meta


def load_release(path: str | Path, device: str | torch.device = "cpu") -> tuple[Config, torch.nn.Module, dict]:
    """Load release weights and their config; returns (config, generator in eval mode, metadata)."""
    path = Path(path)
    cfg_file = config_path_for(path)
    if not path.is_file():
        raise IrodoriError(f"model weights not found: {path}")
    if not cfg_file.is_file():
        raise IrodoriError(f"model config not found: {cfg_file} (it is written next to the weights by `irodori export`)")
    try:
        cfg = config_from_dict(json.loads(cfg_file.read_text())["config"])
    except (ValueError, KeyError, OSError) as exc:
        raise IrodoriError(f"cannot load model config {cfg_file}: {exc}") from exc
    G = build_generator(cfg.generator)
    if getattr(G, "hint_encoder", None) is not None and hasattr(G.hint_encoder, "vgg"):
        G.hint_encoder.vgg.load_pretrained(None)
    meta = load_generator_weights(G, path, cfg)
    return cfg, G.to(device).eval().requires_grad_(False), meta


def blend_releases(first: str | Path, second: str | Path, weight: float, out: str | Path) -> Path:
    """Write ``weight * first + (1 - weight) * second``, tensor by tensor, as a float16 release (a weight-space
    ensemble, WiSE-FT's "robust fine-tuning": a stage blended with the model it started from often keeps its
    gains where it improved and the start's where it lost ground). Both must be releases of the same generator;
    the result has ``first``'s config, native size and lineage, with a ``blend`` stage appended."""
    if not 0.0 <= weight <= 1.0:
        raise IrodoriError(f"the blend weight must lie in [0, 1], got {weight}")
    for path in (first, second):
        if not Path(path).is_file():
            raise IrodoriError(f"{path} does not exist: give a release's .safetensors (`irodori export`)")
    cfg, G1, meta = load_release(first)
    cfg2, G2, _ = load_release(second)
    if cfg.to_dict()["generator"] != cfg2.to_dict()["generator"]:
        raise IrodoriError(f"{first} and {second} hold different generators: only one architecture blends")
    b = G2.state_dict()
    mixed = {k: weight * v.float() + (1 - weight) * b[k].float() if v.is_floating_point() else v
             for k, v in G1.state_dict().items()}
    lineage = list(meta.get("lineage") or []) + [blend_stage(cfg, first, second, weight)]
    keep = {k: meta[k] for k in ("step", "source", "irodori") if k in meta}
    return save_release(mixed, cfg, out, fp16=True, lineage=lineage,
                        native_size=int(meta.get("native_size") or cfg.data.size), **keep)
