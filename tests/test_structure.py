"""The library's shape: no import cycle inside ``mrs_lib``, layers point one way, short modules.

The import graph is read from the source with :mod:`ast`, so lazy imports
inside functions count too (a cycle hidden in a function is still a cycle);
only imports under ``if TYPE_CHECKING:`` are left out, since they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mrs_lib"
MAX_LINES = 600
LONG_REASON = "This module is long because"


def _module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.append(child)
            visit(child)

    visit(tree)
    return found


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """``module -> modules of mrs_lib it imports``, without edges to its own parent packages."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_pkg = path.name == "__init__.py"
        package = name if is_pkg else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in _imports(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name.split(".")[0] == "mrs_lib"}
                continue
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] != "mrs_lib":
                continue
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                targets.add(sub if sub in modules else source)
        ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        graph[name] = {t for t in targets if t in modules and t != name and t not in ancestors}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return found


def test_cycle_finder_finds_a_planted_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_graph_reads_relative_and_lazy_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "mrs_lib"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "one.py").write_text("def f():\n    from .sub import two\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "two.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .. import one\n"
        "from .. import one as again\n"
    )
    mods = {_module_name(p, pkg): p for p in sorted(pkg.rglob("*.py"))}
    graph = import_graph(mods)
    assert graph["mrs_lib.one"] == {"mrs_lib.sub.two"}
    assert graph["mrs_lib.sub.two"] == {"mrs_lib.one"}
    assert cycles(graph) == [["mrs_lib.one", "mrs_lib.sub.two"]]


def test_no_import_cycle_inside_mrs_lib() -> None:
    found = cycles(import_graph(_modules()))
    assert not found, "import cycles inside mrs_lib: " + "; ".join(" <-> ".join(c) for c in found)


LAYERS = ("sim", "synth", "models", "train", "search")


@pytest.mark.parametrize("lower", LAYERS[:-1])
def test_lower_layers_do_not_import_higher_ones(lower: str) -> None:
    graph = import_graph(_modules())
    higher = LAYERS[LAYERS.index(lower) + 1 :]
    bad = sorted(
        f"{m} -> {t}"
        for m, targets in graph.items()
        if m == f"mrs_lib.{lower}" or m.startswith(f"mrs_lib.{lower}.")
        for t in targets
        if any(t == f"mrs_lib.{h}" or t.startswith(f"mrs_lib.{h}.") for h in higher)
    )
    assert not bad, f"mrs_lib.{lower} imports a higher layer: {bad}"


def test_modules_are_short_or_say_why() -> None:
    long = []
    for name, path in _modules().items():
        text = path.read_text()
        n = text.count("\n")
        doc = ast.get_docstring(ast.parse(text)) or ""
        if n > MAX_LINES and LONG_REASON not in " ".join(doc.split()):
            long.append(f"{name} ({n} lines)")
    assert not long, f"over {MAX_LINES} lines without '{LONG_REASON} ...' in the docstring: {long}"
