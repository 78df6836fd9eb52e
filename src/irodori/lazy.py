"""Names a package offers without importing the module that defines them until first asked for (PEP 562).

``data/__init__`` and ``models/__init__`` use it so that colorizing, which imports a few of their modules, does not
load the datasets, the line extractors, the discriminator or the baselines.
"""

from __future__ import annotations

import importlib


def lazy_names(package: str, names: dict[str, str], namespace: dict):
    """``(__getattr__, __dir__)`` for ``package``: each of ``names`` (name -> the sub-module that defines it,
    relative to ``package``) is imported on first use and kept in ``namespace`` (the package's globals)."""

    def __getattr__(name: str):
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{names[name]}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names))

    return __getattr__, __dir__
