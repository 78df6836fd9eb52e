"""Painted portraits (colour only; line art is extracted at training time): ``irodori prepare wesnoth|naev``.

- **wesnoth**: Battle for Wesnoth 1.16 unit portraits, ``*/images/portraits/**/*.png`` of the Debian
  packages in :data:`WESNOTH_PACKAGES` (data + official campaigns); GPL-2+ per
  ``usr/share/doc/wesnoth-1.16-data/copyright``. Portraits also shipped under ``transparent/`` are the
  same painting, and a character's moods and ages are variants of it: one group per character
  (:func:`character_group`: ``haldric-annoyed`` and ``haldric-surprised`` share one).
- **naev**: Naev 0.8 character portraits, ``usr/share/naev/dat/gfx/portraits/**/*.png`` of ``naev-data``;
  each file's licence is read from the package's machine-readable ``copyright`` file (default GPL-3+);
  placeholders (``none``, ``unknown``, ``news``, ``*placeholder*``) are left out. Numbered portraits of one
  kind (``dv_civilian_f1`` .. ``f11``) share a painted body: one group per kind (:func:`character_group`).

Transparent backgrounds are composited onto white; the long side is resized to ``size`` and padded
to a square on white.
"""

from __future__ import annotations

import fnmatch
import os
import re
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from irodori.errors import PrepareError
from irodori.data.sources.common import (
    SourceResult, fetch_deb, is_done, on_white, pad_square, read_manifest, resolve_package, run_jobs,
    save_png, short_error, split_of, unpack, write_attribution, write_manifest)

WESNOTH_PACKAGES = ("wesnoth-1.16-data", "wesnoth-1.16-httt", "wesnoth-1.16-tsg", "wesnoth-1.16-nr",
                    "wesnoth-1.16-trow", "wesnoth-1.16-sotbe", "wesnoth-1.16-utbs", "wesnoth-1.16-did",
                    "wesnoth-1.16-dm", "wesnoth-1.16-dw", "wesnoth-1.16-ei", "wesnoth-1.16-l",
                    "wesnoth-1.16-low", "wesnoth-1.16-sof", "wesnoth-1.16-sota", "wesnoth-1.16-thot",
                    "wesnoth-1.16-ttb")
WESNOTH_LICENCE = "GPL-2+"
WESNOTH_ATTRIBUTION = "Battle for Wesnoth 1.16 (https://www.wesnoth.org), its artists; GPL version 2 or later"
NAEV_LICENCE_DEFAULT = "GPL-3+"
NAEV_SKIP = ("none.png", "unknown.png", "news.png", "*placeholder*")


# ---------------------------------------------------------------------------
# Debian machine-readable copyright files


def parse_dep5(text: str) -> list[tuple[list[str], str, str]]:
    """``[(patterns, copyright, licence)]`` of each ``Files:`` stanza (continuation lines joined)."""
    stanzas = []
    for block in re.split(r"\n\s*\n", text):
        fields, key = {}, None
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += " " + line.strip()
            elif ":" in line:
                key, value = line.split(":", 1)
                key = key.strip().lower()
                fields[key] = value.strip()
        if "files" in fields:
            patterns = [p.removeprefix("./") for p in fields["files"].split()]
            stanzas.append((patterns, fields.get("copyright", ""), fields.get("license", "").split(" ")[0]))
    return stanzas


def licence_of(path: str, stanzas: list[tuple[list[str], str, str]]) -> tuple[str, str]:
    """``(licence, copyright)`` of a package-relative path: the last matching stanza wins (DEP-5)."""
    found = ("", "")
    for patterns, holder, licence in stanzas:
        if any(fnmatch.fnmatchcase(path, p) for p in patterns):
            found = (licence, holder)
    return found


# ---------------------------------------------------------------------------
# Listing


def character_group(source: str, stem: str) -> str:
    """The split group of a portrait: its file stem, lower case, up to the first ``-`` (a mood, age or
    costume) and without a trailing number (a numbered variant), so a character's variants share a split."""
    base = re.sub(r"[0-9]+$", "", stem.lower().split("-", 1)[0]).rstrip("_") or stem.lower()
    return f"{source}/{base}"


def list_wesnoth(root: Path) -> dict[str, dict]:
    found = {}
    for path in sorted(root.rglob("*.png")):
        rel = path.relative_to(root).as_posix()
        if "/images/portraits/" not in rel:
            continue
        after = rel.split("/images/portraits/", 1)[1]
        where = rel.split("/images/portraits/", 1)[0].rsplit("/", 1)[-1]  # core or the campaign's folder
        name = f"{where}__" + re.sub(r"[^A-Za-z0-9_-]+", "_", after.removesuffix(".png"))
        found[name] = {"path": str(path), "origin": rel, "group": character_group("wesnoth", path.stem),
                       "licence": WESNOTH_LICENCE, "attribution": WESNOTH_ATTRIBUTION}
    return found


def list_naev(root: Path) -> dict[str, dict]:
    portraits = next((p for p in sorted(root.rglob("gfx/portraits")) if p.is_dir()), None)
    if portraits is None:
        return {}
    copyright_files = sorted(root.rglob("doc/naev-data/copyright"))
    stanzas = parse_dep5(copyright_files[0].read_text(encoding="utf-8")) if copyright_files else []
    found = {}
    for path in sorted(portraits.rglob("*.png")):
        if any(fnmatch.fnmatchcase(path.name, p) for p in NAEV_SKIP):
            continue
        rel = path.relative_to(root).as_posix()
        in_pkg = "dat/" + rel.split("/dat/", 1)[1] if "/dat/" in rel else rel
        licence, holder = licence_of(in_pkg, stanzas)
        licence = licence or NAEV_LICENCE_DEFAULT
        if not licence.startswith(("GPL", "CC", "PD")):
            continue
        name = re.sub(r"[^A-Za-z0-9_-]+", "_", path.relative_to(portraits).as_posix().removesuffix(".png"))
        found[name] = {"path": str(path), "origin": rel, "group": character_group("naev", path.stem), "licence": licence,
                       "attribution": f"Naev (https://naev.org), {holder or 'Edgar Simo-Serra and others'}"}
    return found


# ---------------------------------------------------------------------------
# Converting


def convert_one(job: tuple[str, str, str, int]) -> tuple[str, str | None]:
    name, path, out, size = job
    try:
        with Image.open(path) as im:
            rgba = np.asarray(im.convert("RGBA"))
        save_png(pad_square(on_white(rgba), size), Path(out) / "color" / f"{name}.png")
    except (OSError, ValueError) as exc:
        return name, short_error(exc)
    return name, None


def _fetch_all(packages, workdir: Path) -> Path:
    """``apt-get download`` and unpack every package under one folder."""
    root = workdir / "unpacked"
    root.mkdir()
    for pkg in packages:
        unpack(fetch_deb(pkg, workdir), workdir).rename(root / pkg)
    return root


def prepare_portraits(which: str, out: str | os.PathLike, size: int = 256, source: str | os.PathLike | None = None,
                      *, limit: int | None = None, workers: int = 1, progress: bool = True) -> SourceResult:
    """Build ``out`` (the ``wesnoth`` or ``naev`` folder of the corpus); re-running skips finished files."""
    if which not in ("wesnoth", "naev"):
        raise PrepareError(f"unknown portrait source {which!r}")
    start = time.perf_counter()
    out = Path(out)
    packages = WESNOTH_PACKAGES if which == "wesnoth" else ("naev-data",)
    with tempfile.TemporaryDirectory(prefix=f"irodori-{which}-") as tmp:
        tmp = Path(tmp)
        root = (_fetch_all(packages, tmp) if source is None
                else resolve_package(source, tmp, lambda d: fetch_deb(packages[0], d)))
        found = list_wesnoth(root) if which == "wesnoth" else list_naev(root)
        if not found:
            raise PrepareError(f"{source or 'the package'} holds no {which} portraits")
        if limit:
            found = dict(list(found.items())[:limit])
        old = read_manifest(out) or {}
        failed = {k: v for k, v in old.get("failed", {}).items() if k in found}
        done = [n for n in found if n not in failed and is_done(out, n, pair=False)]
        todo = [(n, found[n]["path"], str(out), size) for n in found if n not in failed and n not in done]
        for n, err in run_jobs(convert_one, todo, workers, which, progress):
            if err:
                failed[n] = err
    files = {n: {"split": split_of(r["group"]), **{k: r[k] for k in ("group", "origin", "licence", "attribution")}}
             for n, r in found.items() if n not in failed}
    licence = WESNOTH_LICENCE if which == "wesnoth" else "GPL-3+ (per-file licences in files)"
    title = "Battle for Wesnoth portraits" if which == "wesnoth" else "Naev portraits"
    manifest = write_manifest(out, f"Debian {', '.join(packages)}", licence, files, size=size, kind="paintings",
                              failed=failed)
    write_attribution(out, title, f"""
Images here are character portraits from {title.split(' portraits')[0]} (Debian packages {', '.join(packages)}),
composited onto white and resized to {size} px (long side) by `irodori prepare {which}`. Each file's origin,
licence and authors are listed in `manifest.json`.

Licence: {licence}. Read from the packages' `usr/share/doc/*/copyright` files
({'"GNU General Public License version 2 or at your option any later version"' if which == 'wesnoth'
  else 'a machine-readable copyright file, default GPL-3+ with per-file stanzas'}).
These images are covered by the GPL: redistributing them requires offering the source (the Debian source
packages) under the same licence.
""")
    return SourceResult(which, manifest, written=len(todo) - len(failed), skipped=len(done), rejected=len(failed),
                        seconds=time.perf_counter() - start)
