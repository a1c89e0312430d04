"""No import cycles between the modules of engine/ and tui/.

Every module is parsed with ast; every import statement counts, wherever it is (module level,
inside a function, under TYPE_CHECKING). `from engine.store import list_runs` is an edge to
engine/store/__init__.py; `from engine.cli import runs` one to engine/cli/__init__.py and one to
engine/cli/runs.py. `import engine.store.reader` names only the module itself: the parent packages
Python runs first when importing a submodule are not counted as edges (a package __init__ that
re-exports its submodules would otherwise be in a cycle with each of them).
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "tui")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def our_modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def imported(node: ast.AST, module: str, is_package: bool, known: set[str]) -> list[str]:
    """The modules of ours one import statement reaches."""
    def ours(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    targets: list[str | None] = []
    if isinstance(node, ast.Import):
        targets = [ours(alias.name) for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            anchor = module.split(".")
            anchor = anchor[:len(anchor) - node.level + (1 if is_package else 0)]
            base = ".".join([*anchor, base] if base else anchor)
        # `from pkg import name` runs pkg/__init__ and reads the name from it, whether or not the name is
        # also a submodule: an edge to pkg, and to pkg.name where that is a module of ours
        targets = [ours(base)] + [ours(f"{base}.{alias.name}") for alias in node.names]
    return [t for t in targets if t is not None and t != module]


def import_graph() -> dict[str, set[str]]:
    modules = our_modules()
    known = set(modules)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        edges: set[str] = set()
        for node in ast.walk(tree):
            edges.update(imported(node, name, path.name == "__init__.py", known))
        graph[name] = edges
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected group of modules (Tarjan), as a path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_the_graph_sees_imports_inside_functions():
    graph = import_graph()
    assert "tui.launch" in graph["engine.cli.main"]  # imported inside main(): the TUI loads only when asked for
    assert "engine.store" in graph["tui.screens.history"]


def test_cycles_are_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e2"}, "e2": set()}
    cycles = find_cycles(graph)
    assert len(cycles) == 1 and set(cycles[0]) == {"a", "b", "c"}


def test_no_import_cycles():
    cycles = find_cycles(import_graph())
    assert cycles == [], "import cycles: " + "; ".join(" <-> ".join(group) for group in cycles)
