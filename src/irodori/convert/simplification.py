"""Convert Sketch Simplification's ``model_gan.pth`` to safetensors.

``irodori convert-weights simplification model_gan.pth`` runs :func:`convert_simplification`.

``model_gan.pth`` is the state dict of an ``nn.Sequential`` (convolutions ``0, 2, ..., 44``,
``N.weight`` / ``N.bias``), possibly wrapped in a dict with the input normalization ``mean`` /
``std``; it is mapped onto :class:`irodori.extractors.simplification.SketchSimplificationNet`
(``layers.N.*``), every shape checked, with the normalization stored as buffers. The Torch7
``sketch_gan.t7`` is not read.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from irodori.errors import ConvertError
from irodori.extractors.simplification import DEFAULT_SCALE, IMAGE_MEAN, IMAGE_STD, SketchSimplificationNet
from irodori.weights.catalog import SIMPLIFICATION
from irodori.weights.converted import hash_source, save_converted


def _scalar(value, what: str) -> float:
    try:
        t = torch.as_tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise ConvertError(f"{what} is not a number: {value!r}") from None
    if t.numel() != 1:
        raise ConvertError(f"{what} is not a single number (shape {tuple(t.shape)})")
    return float(t.reshape(()))


def read_simplification_source(path: Path) -> tuple[dict[str, torch.Tensor], float | None, float | None]:
    """The Sequential state dict (``N.weight`` / ``N.bias``) and the stored mean/std (None if absent).

    Accepts a plain state dict, or a dict holding it under ``state_dict`` / ``model`` next to
    ``mean`` / ``std`` (or ``immean`` / ``imstd``); ``module.`` / ``model.`` key prefixes are dropped.
    """
    if path.suffix == ".t7":
        raise ConvertError(f"{path} is a Torch7 file, which this converter does not read; use the PyTorch "
                           "release model_gan.pth (a state dict of the same network)")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises pickle, zip and runtime errors alike
        raise ConvertError(f"cannot read {path} as a PyTorch state dict: {str(exc).splitlines()[0]}") from None
    if not isinstance(obj, dict):
        raise ConvertError(f"{path} holds a {type(obj).__name__}, not a state dict")
    mean = std = None
    for key in ("mean", "immean"):
        if key in obj and not isinstance(obj[key], dict):
            mean = _scalar(obj[key], f"{path}: {key}")
    for key in ("std", "imstd"):
        if key in obj and not isinstance(obj[key], dict):
            std = _scalar(obj[key], f"{path}: {key}")
    for key in ("state_dict", "model"):
        if isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    state = {}
    for k, v in obj.items():
        if not isinstance(v, torch.Tensor) or k in ("mean", "std", "immean", "imstd"):
            continue
        for prefix in ("module.", "model."):
            k = k.removeprefix(prefix)
        state[k] = v
    return state, mean, std


def sequential_to_state_dict(state: dict[str, torch.Tensor], mean: float, std: float
                             ) -> tuple[dict[str, torch.Tensor], dict]:
    """Map ``N.weight`` / ``N.bias`` onto :class:`SketchSimplificationNet` (``layers.N.*``), checking shapes."""
    first = state.get("0.weight")
    if first is None or first.ndim != 4 or tuple(first.shape[1:]) != (1, 5, 5) or 48 % first.shape[0]:
        raise ConvertError("0.weight is missing or not a 5x5 conv of one input channel with a width dividing 48")
    net = SketchSimplificationNet(width_div=48 // first.shape[0], mean=mean, std=std)
    want = {k.removeprefix("layers."): v for k, v in net.state_dict().items() if k.startswith("layers.")}
    missing, extra = sorted(set(want) - set(state)), sorted(set(state) - set(want))
    wrong = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in want.items()
             if k in state and state[k].shape != v.shape]
    if missing or extra or wrong:
        raise ConvertError(f"not the model_gan network: missing {missing[:6]}, unexpected {extra[:6]}, "
                           f"wrong shape {wrong[:6]}")
    out = {f"layers.{k}": state[k].detach().float().contiguous() for k in want}
    out["mean"] = torch.tensor(float(mean))
    out["std"] = torch.tensor(float(std))
    return out, {"width_div": net.width_div, "mean": float(mean), "std": float(std)}


def convert_simplification(source: str | os.PathLike, out: str | os.PathLike | None = None, *,
                           mean: float | None = None, std: float | None = None) -> Path:
    """Convert ``model_gan.pth`` to safetensors at ``out`` (default: the cache dir).

    ``mean`` / ``std``: the input normalization; default the values stored in the file, else the
    published constants :data:`IMAGE_MEAN` / :data:`IMAGE_STD`.
    """
    source = Path(source)
    digest = hash_source(SIMPLIFICATION, source)
    state, file_mean, file_std = read_simplification_source(source)
    origin = {}
    for key, given, stored, published in (("mean", mean, file_mean, IMAGE_MEAN), ("std", std, file_std, IMAGE_STD)):
        origin[key] = ("argument", given) if given is not None else ("file", stored) if stored is not None \
            else ("published constant", published)
    mean, std = origin["mean"][1], origin["std"][1]
    if not (np.isfinite(mean) and np.isfinite(std) and std > 0):
        raise ConvertError(f"bad input normalization mean={mean} std={std}")
    tensors, meta = sequential_to_state_dict(state, mean, std)
    meta.update(source=source.name, source_sha256=digest, source_url=SIMPLIFICATION.source_url,
                license=SIMPLIFICATION.license, mean_from=origin["mean"][0], std_from=origin["std"][0],
                preprocessing=f"grey / 255, (x - mean) / std, replicate pad to 8; enlarged x{DEFAULT_SCALE} first")
    return save_converted(SIMPLIFICATION, tensors, out, meta)
