"""The package's layers hold: no import cycle, no upward import (function-level imports included).

Ranks, bottom to top: a module may import modules of a lower rank, or of its own component
(the same sub-package or module). Two components of one rank (ingest and analysis) do not
import each other.
"""
from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "duckpipe"

RANKS = {
    "errors": 0, "machine": 0, "budget": 0,
    "envcheck": 1,
    "db": 2, "profiles": 1,
    "settings": 3, "sqlrender": 3,
    "store": 4,
    "results": 5,
    "catalog": 6,
    "ingest": 7, "analysis": 7, "synth": 7,
    "engine": 8,
    "report": 9,
    "api": 10,
    "cli": 11,
    "__main__": 12,
}


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PKG.rglob("*.py")}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """duckpipe modules imported anywhere in the file (resolving relative imports)."""
    is_pkg = path.name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - (node.level - 1)]
                mod = ".".join(anchor + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod for a in node.names]
        else:
            continue
        out.update(t for t in targets if t == "duckpipe" or t.startswith("duckpipe."))
    return {t for t in out if t in known and t != name}


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(name, path, known) for name, path in mods.items()}


def component(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_module_has_a_rank():
    missing = sorted({component(m) for m in modules()} - set(RANKS) - {""})
    assert not missing, f"components without a layer rank in tests/test_layout.py: {missing}"


def test_no_import_cycle():
    g = graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(g[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for mod in sorted(g):
        if mod not in state and (cycle := visit(mod)):
            raise AssertionError("import cycle: " + " -> ".join(cycle))


def test_no_upward_import():
    bad = []
    for mod, targets in graph().items():
        src = component(mod)
        for t in targets:
            dst = component(t)
            if dst in ("", src):
                continue
            if RANKS[dst] >= RANKS[src]:
                bad.append(f"{mod} imports {t} (rank {RANKS[src]} -> {RANKS[dst]})")
    assert not bad, "upward or sideways imports:\n" + "\n".join(sorted(bad))


def test_db_is_a_leaf():
    """db.py knows no table and no template: it imports nothing of duckpipe but leaves (errors, envcheck)."""
    assert graph()["duckpipe.db"] <= {"duckpipe.errors", "duckpipe.envcheck"}


def test_the_walker_sees_function_level_and_relative_imports(tmp_path):
    """What the checks above rely on: nested and relative imports are seen and resolved."""
    probe = tmp_path / "x.py"
    probe.write_text("import duckdb\n\ndef f():\n    from ..report import build\n    from .. import db\n")
    known = {"duckpipe.engine.x", "duckpipe.report.build", "duckpipe.report", "duckpipe.db"}
    assert imports_of("duckpipe.engine.x", probe, known) == {"duckpipe.report.build", "duckpipe.db"}
    g = graph()
    assert "duckpipe.engine.session" in g["duckpipe.api"]
    assert "duckpipe.analysis.stats" in g["duckpipe.analysis.pipelines"]     # a function-level import
