"""Putting weights into a network: read a PyTorch state dict safely, load it naming every mismatch."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from irodori.errors import WeightsError


def read_torch_state(path: Path, what: str = "weights") -> dict[str, torch.Tensor]:
    """A state dict saved with ``torch.save``, read with ``weights_only=True``; WeightsError if unreadable."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means an unusable file
        raise WeightsError(f"cannot read {what} from {path}: {exc}") from exc


def load_state_checked(module: nn.Module, state: dict[str, torch.Tensor], source: str | Path, *,
                       ignore_unexpected: bool = False) -> None:
    """``load_state_dict`` that names what is missing, unexpected or the wrong shape (as WeightsError).

    BatchNorm's ``num_batches_tracked`` (a training counter) is neither needed nor refused.
    ``ignore_unexpected``: the file may hold more than the module (torchvision's VGG19 file carries
    the classifier, a truncated VGG19 uses the first layers only)."""
    counter = lambda k: k.endswith("num_batches_tracked")  # noqa: E731
    own = {k: v for k, v in module.state_dict().items() if not counter(k)}
    missing = sorted(set(own) - set(state))
    unexpected = [] if ignore_unexpected else sorted(k for k in state if k not in own and not counter(k))
    wrong = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in own.items()
             if k in state and tuple(state[k].shape) != tuple(v.shape)]
    if missing or unexpected or wrong:
        raise WeightsError(f"{source} does not fit {type(module).__name__}: missing {missing[:5]}, "
                           f"unexpected {unexpected[:5]}, wrong shape {wrong[:5]}")
    module.load_state_dict({k: state[k] for k in own}, strict=False)
