"""The import DAG of STYLE.md §1: each layer imports only its own layer or those below it.

L0 errors/types/_pb < L1 _h2 < L2 _grpc < L2' _etcd < L3 _backends/_compat/_options/trace
< L4 _async/_sync/client < L5 tools. Sans-IO layers (L0-L2') never import I/O modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "etcdwire"

LAYER = {
    "errors": 0, "types": 0, "_pb": 0,
    "_h2": 1,
    "_grpc": 2,
    "_etcd": 2.5,
    "_backends": 3, "_compat": 3, "_options": 3, "trace": 3,
    "_async": 4, "_sync": 4, "client": 4, "__init__": 4,
    "tools": 5,
}
IO_MODULES = {"socket", "ssl", "asyncio", "threading", "selectors", "select", "subprocess"}


def _layer_of(parts: list[str]) -> float:
    return LAYER[parts[0]] if parts else LAYER["__init__"]


def _imports(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text())
    rel = path.relative_to(PACKAGE).with_suffix("").parts
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(rel[: len(rel) - node.level])
                module = ".".join(["etcdwire", *base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.append((module, node.lineno))
    return found


SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if "_pb" not in p.parts)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_style_1_import_direction(path: Path) -> None:
    """STYLE.md §1 'Import direction': no module imports a layer above its own."""
    own_parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    own = _layer_of(own_parts if own_parts != ["__init__"] else [])
    for module, line in _imports(path):
        if not module.startswith("etcdwire"):
            if own < 3:
                assert module.split(".")[0] not in IO_MODULES, f"{path}:{line} imports {module}"
            continue
        parts = module.split(".")[1:]
        target = _layer_of(parts)
        assert target <= own, f"{path}:{line}: layer {own} imports {module} (layer {target})"
        if own_parts[0] == "_etcd":
            assert parts[:1] != ["_h2"], f"{path}:{line}: _etcd must not import _h2"


def test_state_locks_are_never_held_across_an_await() -> None:
    """``StateLock`` sections (``with self._cond:`` in the async shell) are thread locks: an
    ``await`` inside one would let another coroutine block the event loop's thread on it."""
    offenders = []
    for path in sorted((PACKAGE / "_async").rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.With):
                continue
            if not any("_cond" in ast.unparse(item.context_expr) for item in node.items):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.Await | ast.AsyncWith | ast.AsyncFor):
                    offenders.append(f"{path.name}:{inner.lineno}")
    assert offenders == []
