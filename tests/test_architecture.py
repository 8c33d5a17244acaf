"""The layering the code keeps, checked by reading its imports (no import is executed):

- no import cycle among the modules of ``src/logsight`` (deferred imports inside functions
  count: they hide a cycle rather than remove it);
- routers speak HTTP only: no module of ``logsight.api.routers`` imports psycopg or runs a
  statement (``execute(``); SQL lives in query/, tenancy/ and storage/.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "logsight"
ROUTERS = "logsight.api.routers"


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and _type_checking_only(node):
            pending.extend(node.orelse)  # annotations only: never imported at run time
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        pending.extend(ast.iter_child_nodes(node))


def imported(name: str) -> set[str]:
    """Every module ``name`` imports (anywhere in it), by full name."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            base = f"{anchor}.{base}" if base else anchor
        found.add(base)
        # "from package import module" imports the module.
        found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def graph() -> dict[str, set[str]]:
    return {name: imported(name) & MODULES.keys() - {name} for name in MODULES}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_walk_sees_the_imports() -> None:
    edges = graph()
    assert "logsight.ingest.core" in edges["logsight.ingest.service"]
    assert "logsight.query.keyset" in edges["logsight.query.events"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_in_src() -> None:
    assert cycles(graph()) == []


def test_routers_speak_http_only() -> None:
    routers = [name for name in MODULES if name.startswith(f"{ROUTERS}.")]
    assert len(routers) >= 10
    offending = {
        name: sorted(
            module
            for module in imported(name)
            if module == "psycopg" or module.startswith("psycopg.")
        )
        for name in routers
    }
    assert {name: found for name, found in offending.items() if found} == {}
    executing = [name for name in routers if "execute(" in MODULES[name].read_text()]
    assert executing == []
