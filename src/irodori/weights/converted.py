"""The converted-file format: safetensors with an ``irodori`` metadata entry carrying a hash of the tensors.

The authors publish their networks in their own formats (a Keras ``.h5``, a PyTorch state dict,
a TF.js model); ``irodori convert-weights NAME SRC`` turns each into one safetensors file. Its
SHA-256 cannot be known in advance (float conversion, safetensors layout and metadata all change
the bytes), so the check is split in two:

* at conversion time the *source* file is hashed (:func:`hash_source`): it must match
  ``source_sha256`` when the record knows it, and its digest is recorded in the output either way
  (``irodori convert-weights`` prints it, so it can be compared with a trusted copy);
* the converted file carries ``content_sha256``, a SHA-256 over its tensors (name, dtype, shape,
  bytes, in name order), in its metadata. :func:`load_converted` recomputes it and refuses a file
  whose tensors do not match, so corruption or a hand-edited file is caught, while any correctly
  converted local file is accepted.

:func:`check_header` only reads the safetensors header, so finding a file at start-up is cheap.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from irodori.atomic import atomic_path
from irodori.errors import ConvertError, WeightsError
from irodori.weights.files import cache_dir, sha256_of
from irodori.weights.records import ConvertedWeights

#: Version of the converted-file layout written into the metadata.
FORMAT_VERSION = 1


def read_metadata(path: Path) -> dict:
    """The ``irodori`` metadata of a safetensors file (header only); WeightsError if unreadable."""
    try:
        with safe_open(str(path), "pt") as f:
            return json.loads((f.metadata() or {}).get("irodori", "{}"))
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"cannot read {path} as safetensors: {exc}") from exc


def check_header(record: ConvertedWeights, path: Path) -> dict:
    """The metadata of ``path``, after checking it is a converted ``record`` file (header only)."""
    meta = read_metadata(path)
    if meta.get("format") != record.format or not (meta.get("content_sha256") or record.content_hash_optional):
        raise WeightsError(f"{path} is not a converted {record.name} file (format {meta.get('format')!r}, "
                           f"expected {record.format!r}); convert it again with `{record.convert_command}`")
    return meta


def content_sha256(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}|{str(t.dtype).removeprefix('torch.')}|{tuple(t.shape)}|".encode())
        h.update(np.ascontiguousarray(t.numpy()).tobytes())
    return h.hexdigest()


def hash_source(record: ConvertedWeights, path: Path) -> str:
    """SHA-256 of the published file, checked against ``record.source_sha256`` when that is known."""
    if not path.is_file():
        raise ConvertError(f"{path} does not exist: download {record.source_filename} from {record.source_url}")
    digest = sha256_of(path)
    if record.source_sha256 and digest != record.source_sha256.lower():
        raise ConvertError(f"{path} fails the SHA-256 check (expected {record.source_sha256[:16]}..., got "
                           f"{digest[:16]}...): not the published {record.source_filename}")
    return digest


def save_converted(record: ConvertedWeights, tensors: dict[str, torch.Tensor], out: str | os.PathLike | None,
                   meta: dict) -> Path:
    """Write ``tensors`` with ``meta`` (plus format, version, content hash) atomically to ``out``
    (default: the cache dir); returns the path."""
    path = Path(out) if out else cache_dir() / record.filename
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    meta = {"format": record.format, "format_version": FORMAT_VERSION, **meta,
            "content_sha256": content_sha256(tensors)}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"irodori": json.dumps(meta)})
    return path


def load_converted(record: ConvertedWeights, path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Tensors and metadata of a converted file, after checking its format and content hash."""
    meta = check_header(record, path)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"cannot read {path}: {exc}") from exc
    if meta.get("content_sha256"):
        digest = content_sha256(tensors)
        if digest != meta["content_sha256"]:
            raise WeightsError(f"{path} is corrupt: its tensors hash to {digest[:16]}..., its metadata says "
                               f"{meta['content_sha256'][:16]}...; convert it again with `{record.convert_command}`")
    return tensors, meta
