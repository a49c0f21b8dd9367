"""No two modules of the engine import each other, directly or around a circle: what both need
lives in the one lower down. Imports inside functions count (deferring one only hides the
cycle); those under ``if TYPE_CHECKING:`` do not (annotations only, never run)."""
from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

ENGINE = Path(__file__).resolve().parent.parent / "engine"
MODULES = {path.stem for path in ENGINE.glob("*.py")}


def _imported(node: ast.AST) -> set[str]:
    """The engine modules an import statement names (relative or ``gridloop.engine...``)."""
    if isinstance(node, ast.ImportFrom):
        module = node.module or ""
        if node.level == 1 or module.startswith("gridloop.engine"):
            rest = module.removeprefix("gridloop.engine").lstrip(".") if node.level == 0 else module
            return {rest.split(".")[0]} if rest else {alias.name for alias in node.names}
    if isinstance(node, ast.Import):
        return {a.name.split(".")[2] for a in node.names if a.name.startswith("gridloop.engine.")}
    return set()


def _imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            found |= _imports(ast.Module(body=node.orelse, type_ignores=[]))
            continue
        found |= _imported(node) | _imports(node)
    return found


def test_the_engine_modules_import_no_cycle():
    graph = {path.stem: _imports(ast.parse(path.read_text(encoding="utf-8"))) & MODULES - {path.stem}
             for path in ENGINE.glob("*.py")}
    assert graph["queries"] >= {"policy", "org"}  # the walk sees imports at all
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None
