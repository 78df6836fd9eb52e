"""The package's shape: no import cycles between modules or between sub-packages, function-level imports
only where they are explained, every module importable in a fresh interpreter, and modules and functions
of a readable size (the house style: files under ~400 lines, functions under ~80)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
#: The inference package: everything a colorization runs on.
INFERENCE = "irodori.colorize"
#: What training, the datasets, the line extractors and the baseline networks are made of: colorizing (the
#: inference package, and the web app over it) loads none of it.
TRAINING_ONLY = ("irodori.train", "irodori.data.datasets", "irodori.data.corpus", "irodori.data.synthetic",
                 "irodori.data.sources", "irodori.extractors", "irodori.models.alacgan", "irodori.models.pix2pixhd",
                 "irodori.models.discriminator")
#: What no module of the inference package imports, at its top or inside a function: training and all of the
#: data side, evaluation, experiments, the weight converters, the losses, the baselines and the discriminator,
#: and the interfaces above it.
NOT_FOR_INFERENCE = (*TRAINING_ONLY, "irodori.data", "irodori.eval", "irodori.experiments", "irodori.convert",
                     "irodori.losses", "irodori.onnx_int8", "irodori.cli", "irodori.web")
#: Where a function-level import needs no comment: the CLI imports each command's modules when it runs,
#: so that ``irodori --help`` and argument errors stay fast.
LAZY_OK = ("irodori.cli",)


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted((SRC / "irodori").rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _target(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(path: Path) -> list[tuple[str, ast.stmt, bool]]:
    """(imported irodori module, statement, whether it sits inside a function) for every import in ``path``."""
    tree = ast.parse(path.read_text())
    inside = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
              for n in ast.walk(f) if n is not f}
    out = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                     for a in node.names]
        for name in names:
            if name.startswith("irodori") and (target := _target(name)):
                out.append((target, node, id(node) in inside))
    return out


def _graph(node_of) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        for target, _node, _lazy in _imports(path):
            a, b = node_of(module), node_of(target)
            if a != b:
                graph.setdefault(a, set()).add(b)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_no_module_imports_itself_through_others():
    assert _cycles(_graph(lambda m: m)) == []


def test_no_two_subpackages_import_each_other():
    assert _cycles(_graph(_package)) == []


def _loaded_by(module: str) -> list[str]:
    code = f"import sys, {module}\nprint(*sorted(m for m in sys.modules if m.startswith('irodori')))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.split()


def _is_under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_no_module_of_the_inference_package_imports_training_data_or_interfaces():
    found = [f"{module}:{node.lineno} imports {target}" for module, path in MODULES.items()
             if _is_under(module, (INFERENCE,)) for target, node, _lazy in _imports(path)
             if _is_under(target, NOT_FOR_INFERENCE)]
    assert found == []


def test_colorizing_loads_no_training_code():
    inference = [m for m in MODULES if _is_under(m, (INFERENCE,))]
    for entries in (inference, ["irodori.pipeline"], ["irodori.web.app"]):
        loaded = _loaded_by(", ".join(entries))
        assert set(entries) <= set(loaded)
        assert [m for m in loaded if _is_under(m, TRAINING_ONLY)] == [], entries


def test_old_import_paths_still_find_what_the_packages_load_lazily():
    code = ("from irodori.data import build_dataset, SyntheticShapes, draw_shapes, LINE_EXTRACTORS\n"
            "from irodori.models import MultiScaleDiscriminator, Pix2PixHDGenerator, build_discriminator\n"
            "from irodori.pipeline import Colorizer\n"
            "from irodori.colorize import ColorizeOptions, Colorizer as Same, HintLayer, ModelFiles\n"
            "assert Same is Colorizer\n"
            "import irodori.data, irodori.models\n"
            "assert 'build_dataset' in dir(irodori.data) and 'PatchDiscriminator' in dir(irodori.models)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_function_level_imports_say_why():
    unexplained = []
    for module, path in MODULES.items():
        if module.startswith(LAZY_OK):
            continue
        lines = path.read_text().splitlines()
        for target, node, lazy in _imports(path):
            context = " ".join(lines[max(0, node.lineno - 2):node.lineno]).lower()
            if lazy and "optional" not in context:
                unexplained.append(f"{module}:{node.lineno} imports {target}")
    assert unexplained == []


def test_every_module_imports_in_a_fresh_interpreter():
    names = [m for m in MODULES if not m.endswith("__main__")]
    code = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    proc = subprocess.run([sys.executable, "-c", code, *names], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_no_module_is_over_400_lines_and_no_function_over_80():
    too_long = []
    for module, path in MODULES.items():
        text = path.read_text()
        if text.count("\n") > 400:
            too_long.append(f"{module}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 80:
                too_long.append(f"{module}.{node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert too_long == []


def test_no_script_of_the_page_is_over_400_lines():
    static = SRC / "irodori" / "web" / "static"
    scripts = sorted(static.rglob("*.js"))
    assert scripts, static
    too_long = [f"{p.relative_to(static)}: {n} lines" for p in scripts if (n := p.read_text().count("\n")) > 400]
    assert too_long == []


def test_every_script_the_page_imports_is_one_of_its_static_files():
    """The page is plain ES modules from ``web/static`` (``irodori export-web`` copies that folder whole): every
    ``import ... from './x.js'`` and ``import('./x.js')``, followed from ``app.js``, names a file there."""
    static = SRC / "irodori" / "web" / "static"
    pattern = re.compile(r"""(?:\bfrom\s*|\bimport\s*\(\s*)['"]\./([\w.-]+\.js)['"]""")
    seen, todo, missing = set(), ["app.js"], []
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if not (static / name).is_file():
            missing.append(name)
            continue
        todo += pattern.findall((static / name).read_text())
    assert missing == [] and {"page.js", "painting.js", "colorizing.js", "views.js"} <= seen
