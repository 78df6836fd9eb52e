"""Starting a new run's generator from release weights (``irodori train --init-from``), also when the
architecture differs: every tensor whose name and shape match is loaded, the rest keeps its
random initialisation, and the fraction that matched decides whether that is allowed."""

from __future__ import annotations

import json
from pathlib import Path

import torch.nn as nn
from safetensors import SafetensorError
from safetensors.torch import load_file

from irodori.errors import IrodoriError
from irodori.models import FROZEN_VGG_PREFIX
from irodori.release import INT8, dequantize_int8

#: Without ``--init-partial``, at least this fraction of the new generator's tensors must match by name
#: and shape: below it, "initialised from X" would mostly mean "random".
MIN_FRACTION = 0.5


def init_generator(G: nn.Module, path: str | Path, *, allow_partial: bool = False,
                   min_fraction: float = MIN_FRACTION) -> tuple[dict, str]:
    """Load the tensors of release ``path`` whose name and shape match ``G``'s into ``G``.

    Returns ``(metadata, report)``, the report reading ``init-from: loaded N/M tensors (K skipped:
    names...)`` (M = ``G``'s tensors; the frozen ImageNet VGG is never counted). Raises
    :class:`IrodoriError` when nothing matches, or when under ``min_fraction`` matches and
    ``allow_partial`` is False.
    """
    path = Path(path)
    try:
        meta = json.loads(path.with_suffix(".json").read_text())
        tensors = load_file(str(path))
    except (ValueError, SafetensorError, OSError) as exc:
        raise IrodoriError(f"cannot load model {path}: {exc}") from exc
    if meta.get("dtype") == INT8:  # a GPU call's 8-bit transport: start from the weights, not their codes
        tensors = dequantize_int8(tensors)
    state = G.state_dict()
    own = {k: v for k, v in state.items() if not k.startswith(FROZEN_VGG_PREFIX)}
    matched = {k: v for k, v in tensors.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    skipped = [k for k in own if k not in matched]
    shown = ", ".join(skipped[:6]) + (", ..." if len(skipped) > 6 else "")
    report = f"init-from: loaded {len(matched)}/{len(own)} tensors ({len(skipped)} skipped" + \
        (f": {shown})" if skipped else ")")
    unused = len(set(tensors) - set(matched))
    if unused:
        report += f"; {unused} tensors of {path.name} unused"
    if not matched:
        raise IrodoriError(f"{report}: no tensor of {path} fits this generator")
    if len(matched) < min_fraction * len(own) and not allow_partial:
        raise IrodoriError(f"{report}: under {min_fraction:.0%} of the generator's tensors match; pass "
                           "--init-partial to start from them anyway")
    G.load_state_dict({**state, **{k: v.to(own[k].dtype) for k, v in matched.items()}})
    return meta, report
