"""What the learned line extractors share: converted weight files, running a network, image plumbing.

Converted weights
-----------------
The authors publish their networks in their own formats (a Keras ``.h5``, a PyTorch state dict);
``irodori convert-weights NAME SRC`` turns each into one safetensors file that this package
loads. A :class:`ConvertedWeights` record describes such a file: it is found like every weight
file here (explicit path -> ``$ENV_VAR`` -> ``$IRODORI_CACHE/FILENAME``), but its SHA-256 cannot
be known in advance (float conversion, safetensors layout and metadata all change the bytes), so
the check is split in two:

* at conversion time the *source* file is hashed: it must match ``source_sha256`` when the record
  knows it, and its digest is recorded in the output either way (``irodori convert-weights``
  prints it, so it can be compared with a trusted copy);
* the converted file carries ``content_sha256``, a SHA-256 over its tensors (name, dtype, shape,
  bytes, in name order), in its safetensors metadata. Loading recomputes it and refuses a file
  whose tensors do not match, so corruption or a hand-edited file is caught, while any correctly
  converted local file is accepted.

Finding a file (:func:`find_converted`) only reads the safetensors header, so start-up checks
are cheap; the content hash is verified when the network is loaded (once per process).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from irodori.atomic import atomic_path
from irodori.errors import ConvertError, WeightsError
from irodori.weights import cache_dir, sha256_of
from irodori.weights import candidates as weight_candidates

#: Version of the converted-file layout written into the metadata.
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ConvertedWeights:
    """A weight file made by ``irodori convert-weights`` from a file the authors publish."""

    #: The method / converter name (``irodori convert-weights NAME``).
    name: str
    #: File name in the cache dir.
    filename: str
    #: Environment variable that may point at the converted file.
    env_var: str
    #: ``format`` tag in the file's metadata.
    format: str
    #: The published file the converter reads, and where it is published.
    source_filename: str
    source_url: str
    #: SHA-256 of the published file when known ("" = not known: recorded at conversion, not checked).
    source_sha256: str = ""
    description: str = ""
    license: str = ""

    @property
    def convert_command(self) -> str:
        return f"irodori convert-weights {self.name} {self.source_filename}"

    def how_to_get(self) -> str:
        return (f"Download {self.source_filename} ({self.source_url}) and convert it once with "
                f"`{self.convert_command}` (writes {cache_dir() / self.filename}), "
                f"or set ${self.env_var} to a converted file")


def candidates(spec: ConvertedWeights, explicit: str | os.PathLike | None = None) -> list[tuple[str, Path]]:
    """Where ``spec`` is looked for, in order: explicit path, ``$ENV_VAR``, the cache dir."""
    return weight_candidates(spec, explicit, torch_hub=False)


def read_metadata(path: Path) -> dict:
    """The ``irodori`` metadata of a safetensors file (header only); WeightsError if unreadable."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), "pt") as f:
            return json.loads((f.metadata() or {}).get("irodori", "{}"))
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"cannot read {path} as safetensors: {exc}") from exc


def _check_header(spec: ConvertedWeights, path: Path) -> None:
    meta = read_metadata(path)
    if meta.get("format") != spec.format or not meta.get("content_sha256"):
        raise WeightsError(f"{path} is not a converted {spec.name} file (format {meta.get('format')!r}, "
                           f"expected {spec.format!r}); convert it again with `{spec.convert_command}`")


def find_converted(spec: ConvertedWeights, explicit: str | os.PathLike | None = None) -> Path:
    """The first converted file for ``spec`` (header checked); WeightsError naming the command otherwise."""
    for source, path in candidates(spec, explicit):
        if path.is_file():
            _check_header(spec, path)
            return path
        if source != "cache dir":
            raise WeightsError(f"{spec.name} weights: {source} {path} does not exist. {spec.how_to_get()}.")
    raise WeightsError(f"{spec.name} weights not found: no {spec.filename} in {cache_dir()} and "
                       f"${spec.env_var} is not set. {spec.how_to_get()}.")


def content_sha256(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}|{str(t.dtype).removeprefix('torch.')}|{tuple(t.shape)}|".encode())
        h.update(np.ascontiguousarray(t.numpy()).tobytes())
    return h.hexdigest()


def hash_source(spec: ConvertedWeights, path: Path) -> str:
    """SHA-256 of the published file, checked against ``spec.source_sha256`` when that is known."""
    if not path.is_file():
        raise ConvertError(f"{path} does not exist: download {spec.source_filename} from {spec.source_url}")
    digest = sha256_of(path)
    if spec.source_sha256 and digest != spec.source_sha256.lower():
        raise ConvertError(f"{path} fails the SHA-256 check (expected {spec.source_sha256[:16]}..., got "
                           f"{digest[:16]}...): not the published {spec.source_filename}")
    return digest


def save_converted(spec: ConvertedWeights, tensors: dict[str, torch.Tensor], out: str | os.PathLike | None,
                   meta: dict) -> Path:
    """Write ``tensors`` with ``meta`` (plus format, version, content hash) atomically; returns the path."""
    from safetensors.torch import save_file

    path = Path(out) if out else cache_dir() / spec.filename
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    meta = {"format": spec.format, "format_version": FORMAT_VERSION, **meta,
            "content_sha256": content_sha256(tensors)}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"irodori": json.dumps(meta)})
    return path


def load_converted(spec: ConvertedWeights, path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Tensors and metadata of a converted file, after checking its format and content hash."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    _check_header(spec, path)
    meta = read_metadata(path)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"cannot read {path}: {exc}") from exc
    digest = content_sha256(tensors)
    if digest != meta["content_sha256"]:
        raise WeightsError(f"{path} is corrupt: its tensors hash to {digest[:16]}..., its metadata says "
                           f"{meta['content_sha256'][:16]}...; convert it again with `{spec.convert_command}`")
    return tensors, meta


def load_state_checked(module: torch.nn.Module, tensors: dict[str, torch.Tensor], path: Path) -> None:
    """``load_state_dict`` that names what is missing, unexpected or the wrong shape (as WeightsError).

    BatchNorm's ``num_batches_tracked`` (a training counter) is not stored and not expected."""
    own = {k: v for k, v in module.state_dict().items() if not k.endswith("num_batches_tracked")}
    missing = sorted(set(own) - set(tensors))
    extra = sorted(set(tensors) - set(own))
    wrong = [f"{k} {tuple(tensors[k].shape)} != {tuple(own[k].shape)}" for k in own
             if k in tensors and tensors[k].shape != own[k].shape]
    if missing or extra or wrong:
        raise WeightsError(f"{path} does not fit {type(module).__name__}: missing {missing[:5]}, "
                           f"unexpected {extra[:5]}, wrong shape {wrong[:5]}")
    module.load_state_dict(tensors, strict=False)


# ---------------------------------------------------------------------------
# Running a network


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` intra-op threads (None: leave as is), restoring the previous count."""
    before = torch.get_num_threads()
    if n is None or n == before:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def module_device(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device


# ---------------------------------------------------------------------------
# Images


def rgb_uint8(image: np.ndarray) -> np.ndarray:
    """``H×W×3 uint8`` RGB from RGB or grey, uint8 or float in [0, 1]."""
    img = np.asarray(image)
    if img.dtype != np.uint8:
        img = np.clip(img.astype(np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an H×W×3 RGB or H×W grey image, got shape {img.shape}")
    return img


def pad_amount(n: int, multiple: int) -> int:
    return -n % multiple
