"""Pretrained weight files: a small record per file, resolved without surprises.

Resolution order (timm / torch.hub style):
  1. an explicit path given by the caller,
  2. the environment variable named in the record (e.g. ``IRODORI_VGG19``),
  3. the cache dir ``$IRODORI_CACHE`` (default ``~/.cache/irodori``), and torch hub's
     ``$TORCH_HOME/hub/checkpoints`` (default ``~/.cache/torch/hub/checkpoints``),
  4. a download from the published URL into the cache dir, unless downloads are
     disabled (``IRODORI_OFFLINE=1``) or the machine is offline.

Every file is checked against the record's SHA-256 (a full digest or, for files
published the torch.hub way, the hex prefix carried in the file name) before use.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from irodori.atomic import atomic_path
from irodori.errors import WeightsError


@dataclass(frozen=True)
class WeightSpec:
    name: str
    filename: str
    url: str
    #: Full SHA-256 hex digest, or a prefix of it (torch.hub file-name convention).
    sha256: str
    env_var: str
    description: str = ""


VGG19_IMAGENET = WeightSpec(
    name="vgg19",
    filename="vgg19-dcbb9e9d.pth",
    url="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
    sha256="dcbb9e9d",
    env_var="IRODORI_VGG19",
    description="ImageNet VGG19 (torchvision release), used by the hint encoder and the perceptual loss",
)


def cache_dir() -> Path:
    return Path(os.environ.get("IRODORI_CACHE") or Path.home() / ".cache" / "irodori")


def _torch_hub_dir() -> Path:
    home = os.environ.get("TORCH_HOME") or Path.home() / ".cache" / "torch"
    return Path(home) / "hub" / "checkpoints"


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, spec: WeightSpec) -> None:
    digest = sha256_of(path)
    if not digest.startswith(spec.sha256.lower()):
        raise WeightsError(
            f"{spec.name} weights at {path} fail the SHA-256 check (expected {spec.sha256}..., got {digest[:16]}...). "
            f"The file is corrupt or not {spec.filename}; delete it and fetch it again from {spec.url}"
        )


def downloads_allowed() -> bool:
    return os.environ.get("IRODORI_OFFLINE", "").lower() not in ("1", "true", "yes")


def _download(spec: WeightSpec, dest: Path) -> None:
    with atomic_path(dest, suffix=".part") as tmp:
        with open(tmp, "wb") as out, urllib.request.urlopen(spec.url, timeout=30) as resp:
            shutil.copyfileobj(resp, out, 1 << 20)
        verify(tmp, spec)


def candidates(spec, explicit: str | os.PathLike | None = None, *, torch_hub: bool = True) -> list[tuple[str, Path]]:
    """Where a weight file (any record with ``env_var`` and ``filename``) is looked for, in order:
    explicit path, ``$ENV_VAR``, the cache dir and, for files published the torch.hub way, its cache."""
    out = []
    if explicit:
        out.append(("explicit path", Path(explicit)))
    if os.environ.get(spec.env_var):
        out.append((f"${spec.env_var}", Path(os.environ[spec.env_var])))
    out.append(("cache dir", cache_dir() / spec.filename))
    if torch_hub:
        out.append(("torch hub cache", _torch_hub_dir() / spec.filename))
    return out


def resolve(spec: WeightSpec, explicit: str | os.PathLike | None = None) -> Path:
    """Return a verified local path for ``spec``, downloading it if allowed; raise WeightsError otherwise."""
    for source, path in candidates(spec, explicit):
        if source in ("explicit path", f"${spec.env_var}") and not path.is_file():
            raise WeightsError(f"{spec.name} weights: {source} {path} does not exist")
        if path.is_file():
            verify(path, spec)
            return path
    dest = cache_dir() / spec.filename
    if downloads_allowed():
        try:
            _download(spec, dest)
            return dest
        except WeightsError:
            raise
        except OSError as exc:
            reason = f"download from {spec.url} failed ({exc})"
    else:
        reason = "downloads are disabled (IRODORI_OFFLINE=1)"
    raise WeightsError(
        f"{spec.name} weights not found: {spec.filename} ({spec.description}).\n"
        f"  {reason}.\n"
        f"  Put the file at {dest} (or set ${spec.env_var} to its path, or pass it explicitly).\n"
        f"  It is published at {spec.url}"
    )
