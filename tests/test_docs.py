"""The documents hold to the code: every module ``docs/DESIGN.md`` names exists, and no committed file outside
the tests holds a path of the machine it was made on."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "irodori"
#: A module, script or folder named in backticks: ``web/site.py``, ``data/sources/``, ``benchmarks/gpu_plan.py``.
_PATH = re.compile(r"`([\w./-]+(?:\.py|\.js|/))`")
#: Paths that only exist on the machine a file was written on.
MACHINE_PATHS = (b"/work/", b"/root/", b"/tmp/pytest")


def _exists(name: str) -> bool:
    """Under the package or the repository root, or (for a name given within its section, such as ``app.py``
    under "web/") as the end of a path under the package."""
    name = name.rstrip("/")
    if (PACKAGE / name).exists() or (ROOT / name).exists():
        return True
    return any(p.relative_to(PACKAGE).as_posix().endswith("/" + name) for p in PACKAGE.rglob(Path(name).name))


def test_every_module_the_design_document_names_exists():
    names = sorted(set(_PATH.findall((ROOT / "docs" / "DESIGN.md").read_text())))
    assert len(names) > 40
    assert [name for name in names if not _exists(name)] == []


def test_no_committed_file_holds_a_path_of_the_machine_it_was_made_on():
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, timeout=60, check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    found = []
    for name in listed.stdout.decode().split("\0"):
        path = ROOT / name
        if not name or name.startswith("tests/") or not path.is_file():
            continue
        data = path.read_bytes()
        found += [f"{name}: {marker.decode()}" for marker in MACHINE_PATHS if marker in data]
    assert found == []


#: A dotted name in backticks: ``irodori.colorize.regions``, ``irodori.colorize.claims.hint_report``.
_DOTTED = re.compile(r"`(irodori(?:\.\w+)+)`")


def _dotted_exists(name: str) -> bool:
    """``name`` is a module or package of ``irodori``, or a name a module defines (or imports) at its top level."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        base = PACKAGE.parent.joinpath(*parts[:cut])
        module = base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
        if module.is_file():
            rest = parts[cut:]
            if not rest:
                return True
            text = module.read_text()
            defines = rf"^(?:(?:async )?def |class |from \S+ import .*\b)?{rest[0]}\b"
            return len(rest) == 1 and re.search(defines, text, re.M) is not None
    return False


def test_every_dotted_module_name_in_the_documents_exists():
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    names = {name for doc in documents for name in _DOTTED.findall(doc.read_text())}
    assert len(names) > 10
    assert sorted(name for name in names if not _dotted_exists(name)) == []
