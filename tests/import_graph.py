"""The layering contract, checked over the import graph of the source tree.

``templates`` <- ``azcompile`` <- ``azcompile.search``, and inside the search its rooms in the
order ``data`` <- ``engine`` <- ``tune`` <- ``run`` <- ``api`` <- ``cli``: a module imports
only from its own layer or the ones before it, and no chain of imports comes back to where it started.  Every import
counts, the ones inside functions too (a function-local import is still a dependency, it only
runs later).
"""
from __future__ import annotations

import ast
from pathlib import Path

# Source folder -> the package it is installed as (pyproject's package-dir).
PACKAGES = {"azcompile": "azcompile", "search": "azcompile.search"}
SEARCH = "azcompile.search"
ROOMS = ("data", "engine", "tune", "run", "api", "cli")


def load_sources(root: Path) -> dict[str, str]:
    """Module name -> source text, for every module of our packages under ``root``."""
    sources = {}
    for folder, package in PACKAGES.items():
        for path in sorted((root / folder).rglob("*.py")):
            parts = path.relative_to(root / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            sources[".".join((package, *parts))] = path.read_text(encoding="utf-8")
    return sources


def _is_package(name: str, sources: dict) -> bool:
    return any(other.startswith(name + ".") for other in sources)


def _named(node, module: str, sources: dict) -> list[str]:
    """The dotted names an import statement in ``module`` asks for, relative ones resolved."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module if _is_package(module, sources) else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}" if base else package
    # ``from pkg import name``: the submodule when ``name`` is one, else pkg itself.
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in sources else base for a in node.names]


def _ours(name: str) -> bool:
    return name.split(".")[0] in ("azcompile", "search")


def _statements(sources: dict):
    """(module, import statement) for every import anywhere in every module."""
    for module, text in sources.items():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                yield module, node


def import_graph(sources: dict[str, str]) -> dict[str, set[str]]:
    """Module -> the modules of ours it imports (anywhere in its body).  A package the module
    lives in is not an edge: its ``__init__`` has run before the module anyway."""
    graph = {module: set() for module in sources}
    for module, node in _statements(sources):
        for name in _named(node, module, sources):
            while name and name not in sources:     # ``import a.b.c`` of an attribute path
                name = name.rpartition(".")[0]
            if name and name != module and not _is_ancestor(name, module):
                graph[module].add(name)
    return graph


def missing_imports(sources: dict[str, str]) -> list[str]:
    """Imports of a module of ours that does not exist (they fail only when they run)."""
    return sorted(f"{module}: {name}" for module, node in _statements(sources)
                  for name in _named(node, module, sources)
                  if _ours(name) and name not in sources)


def layer(module: str) -> tuple[int, int]:
    """(package layer, room) of a module: azcompile is (0, 0), the search's package (1, 0) and
    its rooms (1, 1..6)."""
    if module != SEARCH and not module.startswith(SEARCH + "."):
        return (0, 0)
    rest = module[len(SEARCH) + 1:].split(".")[0]
    return (1, ROOMS.index(rest) + 1 if rest in ROOMS else 0)


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """``a -> b`` for every import of a later layer or room than the importer's own."""
    return sorted(f"{a} -> {b}" for a, targets in graph.items() for b in targets
                  if layer(b) > layer(a))


def _is_ancestor(package: str, module: str) -> bool:
    return module.startswith(package + ".")


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles: strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def template_imports(root: Path) -> list[str]:
    """Templates are text the compiler fills: the modules made from them may use azcompile
    (the layer that generates them), never the search above it."""
    bad = []
    for path in sorted((root / "templates").iterdir()):
        for line in path.read_text(encoding="utf-8").splitlines():
            words = line.split()
            if words[:1] in (["import"], ["from"]) and len(words) > 1 and \
                    (words[1].split(".")[0] == "search" or words[1].startswith(SEARCH)):
                bad.append(f"{path.name}: {line.strip()}")
    return bad
