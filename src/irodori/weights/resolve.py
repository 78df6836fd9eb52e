"""Finding a weight file: explicit path -> ``$ENV_VAR`` -> cache dir(s) -> download (published files only).

An explicit path or a set environment variable is final: when the file is not there, that is the
error, not a silent fall-back to the cache. A published file is checked against its record's
SHA-256 wherever it is found; a converted file's header is checked (its content hash is verified
when it is loaded, :func:`irodori.weights.converted.load_converted`).
"""

from __future__ import annotations

import os
import shutil
import urllib.request
from pathlib import Path

from irodori.atomic import atomic_path
from irodori.errors import WeightsError
from irodori.weights.converted import check_header
from irodori.weights.files import cache_dir, sha256_of, torch_hub_dir
from irodori.weights.records import ConvertedWeights, PublishedWeights

Record = PublishedWeights | ConvertedWeights


def candidates(record: Record, explicit: str | os.PathLike | None = None) -> list[tuple[str, Path]]:
    """Where ``record``'s file is looked for, in order, as (source, path): the explicit path, ``$ENV_VAR``,
    the cache dir and, for a published file, torch hub's cache (files published the torch.hub way)."""
    out = []
    if explicit:
        out.append(("explicit path", Path(explicit)))
    if os.environ.get(record.env_var):
        out.append((f"${record.env_var}", Path(os.environ[record.env_var])))
    out.append(("cache dir", cache_dir() / record.filename))
    if isinstance(record, PublishedWeights):
        out.append(("torch hub cache", torch_hub_dir() / record.filename))
    return out


def _final(source: str) -> bool:
    """An explicit path or a set environment variable is not fallen back from."""
    return source == "explicit path" or source.startswith("$")


def on_disk(record: Record, explicit: str | os.PathLike | None = None) -> bool:
    """Whether :func:`resolve` finds the file without a download (or a conversion)."""
    for source, path in candidates(record, explicit):
        if path.is_file():
            return True
        if _final(source):
            return False
    return False


def resolve(record: Record, explicit: str | os.PathLike | None = None) -> Path:
    """A checked local path for ``record``'s file, downloading a published one if allowed;
    WeightsError naming the file, where it was looked for and how to get it otherwise."""
    if isinstance(record, ConvertedWeights):
        return _find_converted(record, explicit)
    return _resolve_published(record, explicit)


def _find_converted(record: ConvertedWeights, explicit) -> Path:
    for source, path in candidates(record, explicit):
        if path.is_file():
            check_header(record, path)
            return path
        if _final(source):
            raise WeightsError(f"{record.name} weights: {source} {path} does not exist. {record.how_to_get()}.")
    raise WeightsError(f"{record.name} weights not found: no {record.filename} in {cache_dir()} and "
                       f"${record.env_var} is not set. {record.how_to_get()}.")


def _resolve_published(record: PublishedWeights, explicit) -> Path:
    for source, path in candidates(record, explicit):
        if path.is_file():
            verify(path, record)
            return path
        if _final(source):
            raise WeightsError(f"{record.name} weights: {source} {path} does not exist")
    dest = cache_dir() / record.filename
    if downloads_allowed():
        try:
            _download(record, dest)
            return dest
        except WeightsError:
            raise
        except OSError as exc:
            reason = f"download from {record.url} failed ({exc})"
    else:
        reason = "downloads are disabled (IRODORI_OFFLINE=1)"
    raise WeightsError(
        f"{record.name} weights not found: {record.filename} ({record.description}).\n"
        f"  {reason}.\n"
        f"  Put the file at {dest} (or set ${record.env_var} to its path, or pass it explicitly).\n"
        f"  It is published at {record.url}"
    )


def verify(path: Path, record: PublishedWeights) -> None:
    """WeightsError unless the file's SHA-256 starts with ``record.sha256``."""
    digest = sha256_of(path)
    if not digest.startswith(record.sha256.lower()):
        raise WeightsError(
            f"{record.name} weights at {path} fail the SHA-256 check (expected {record.sha256}..., got "
            f"{digest[:16]}...). The file is corrupt or not {record.filename}; delete it and fetch it again "
            f"from {record.url}"
        )


def downloads_allowed() -> bool:
    return os.environ.get("IRODORI_OFFLINE", "").lower() not in ("1", "true", "yes")


def _download(record: PublishedWeights, dest: Path) -> None:
    with atomic_path(dest, suffix=".part") as tmp:
        with open(tmp, "wb") as out, urllib.request.urlopen(record.url, timeout=30) as resp:
            shutil.copyfileobj(resp, out, 1 << 20)
        verify(tmp, record)
