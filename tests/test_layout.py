"""The layout's rules, checked on the source: one direction of imports, no cycles, small files.

`pipeline` imports `data_modules` and `models`; `models` imports nothing of `data_modules` but the
`tag_schemes` leaf, which imports nothing of this project; `data_modules` imports neither `models`
nor `pipeline`.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("pipeline", "data_modules", "models")
MAX_LINES = 250


def sources() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            out[".".join(p for p in parts if p != "__init__")] = path
    return out


def our_imports(path: Path, modules: set[str]) -> set[str]:
    """The project's modules that `path` imports (a `from package import name` counts name when it is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        found |= {n for n in names if n in modules}
    return found


def test_imports_go_one_way_and_have_no_cycles():
    files = sources()
    graph = {name: our_imports(path, set(files)) for name, path in files.items()}
    for name, deps in graph.items():
        top = name.split(".")[0]
        for dep in deps:
            dep_top = dep.split(".")[0]
            if top == "models":
                assert dep_top == "models" or dep == "data_modules.tag_schemes", (name, dep)
            if top == "data_modules":
                assert dep_top == "data_modules", (name, dep)
    assert not graph["data_modules.tag_schemes"], graph["data_modules.tag_schemes"]
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in graph[node]:
            assert state.get(dep) != 1, f"import cycle: {' -> '.join([*path, node, dep])}"
            if dep not in state:
                visit(dep, [*path, node])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [])


def test_no_file_is_longer_than_the_limit():
    paths = [p for p in ROOT.rglob("*.py") if not {".venv", "build"} & set(p.relative_to(ROOT).parts)]
    long = {str(p.relative_to(ROOT)): n for p in paths if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, long
