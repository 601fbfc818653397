"""The import graph keeps the architecture's arrows (docs/ARCHITECTURE.md).

Front ends (the MCP server, the CLI) → service → backends / library / prompting → models, errors,
config. The engine stands alone: it imports nothing else of sora_mcp, and the rest reaches it only
through its package entry (`sora_mcp.engine`). Inside one folder, modules import without cycles.

Every import counts, including those inside functions (a lazy import is still an arrow). The
graph is read from the source with `ast`, so nothing is imported to check it.
"""

from __future__ import annotations

import ast
import shutil
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The layer of each top-level name under sora_mcp; higher imports lower, never the reverse.
LAYERS: dict[str, int] = {
    "__main__": 4,
    "cli": 4,
    "server": 4,
    "service": 3,
    "backends": 2,
    "library": 2,
    "prompting": 2,
    "backends_file": 2,
    "models": 1,
    "errors": 1,
    "config": 1,
    "": 0,  # sora_mcp/__init__.py: the version
}
FRONT = 4  # front-end modules may import each other (the CLI serves the MCP server); lower siblings may not
ENGINE = "engine"
# Cycles that exist and are still to be removed: pinned, so a new cycle, or a removed one left
# listed, fails the test. None is left (the service's went with issue #19 item 3).
KNOWN_CYCLES: set[frozenset[str]] = set()


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path) -> dict[str, set[str]]:
    """Each sora_mcp module → the sora_mcp modules it imports (`from pkg import sub` → pkg.sub)."""
    files = {module_name(root, p): p for p in (root / "sora_mcp").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names if a.name.split(".")[0] == "sora_mcp")
            elif isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                target = ".".join([*base, *([node.module] if node.module else [])])
                if target.split(".")[0] != "sora_mcp":
                    continue
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    targets.add(sub if sub in files else target)
        graph[name] = targets - {name}
    return graph


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def arrow_violations(graph: dict[str, set[str]]) -> list[str]:
    out = []
    for source, targets in sorted(graph.items()):
        src = _top(source)
        if src != ENGINE and src not in LAYERS:
            out.append(f"{source}: sora_mcp.{src} has no layer; add it to LAYERS in {Path(__file__).name}")
            continue
        for target in sorted(targets):
            dst = _top(target)
            if src == ENGINE:
                if dst != ENGINE:
                    out.append(f"{source} -> {target}: the engine imports nothing outside sora_mcp.engine")
            elif dst == ENGINE:
                if target != "sora_mcp.engine":
                    out.append(f"{source} -> {target}: use the engine's entry, sora_mcp.engine")
            elif dst not in LAYERS:
                continue  # reported once, as a source
            elif src != dst and dst and (LAYERS[dst] > LAYERS[src] or LAYERS[dst] == LAYERS[src] < FRONT):
                out.append(f"{source} -> {target}: runs against the arrows")
    return out


def folder_cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """Strongly connected components of more than one module, among modules of one folder."""

    def folder(m: str) -> str:
        return m if m in packages else m.rsplit(".", 1)[0]

    packages = {m for m in graph if any(o.startswith(m + ".") for o in graph)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: set[frozenset[str]] = set()

    def visit(v: str, counter: list[int]) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        for w in graph.get(v, ()):
            if folder(w) != folder(v) and w != folder(v):
                continue
            if w not in index:
                visit(w, counter)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.add(frozenset(comp))

    counter = [0]
    for v in sorted(graph):
        if v not in index:
            visit(v, counter)
    return found


def _fmt(cycles: Iterable[frozenset[str]]) -> list[list[str]]:
    return [sorted(c) for c in cycles]


def test_imports_follow_the_arrows() -> None:
    assert arrow_violations(import_graph(ROOT)) == []


def test_no_new_cycle_inside_a_folder() -> None:
    cycles = folder_cycles(import_graph(ROOT))
    assert not cycles - KNOWN_CYCLES, f"new import cycle(s): {_fmt(cycles - KNOWN_CYCLES)}"
    assert not KNOWN_CYCLES - cycles, f"gone, remove from KNOWN_CYCLES: {_fmt(KNOWN_CYCLES - cycles)}"


def test_a_reversed_arrow_and_a_new_cycle_are_caught(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "sora_mcp", tmp_path / "sora_mcp", ignore=shutil.ignore_patterns("__pycache__"))
    models = tmp_path / "sora_mcp" / "models.py"
    models.write_text(models.read_text() + "\nfrom sora_mcp.service import VideoService\n")
    engine = tmp_path / "sora_mcp" / "engine" / "config.py"
    engine.write_text(engine.read_text() + "\nimport sora_mcp.config\n")
    catalog = tmp_path / "sora_mcp" / "prompting" / "guardrails.py"
    catalog.write_text(catalog.read_text() + "\nfrom sora_mcp.prompting import catalog\n")
    catalog_mod = tmp_path / "sora_mcp" / "prompting" / "catalog.py"
    catalog_mod.write_text(catalog_mod.read_text() + "\nfrom sora_mcp.prompting import guardrails\n")
    graph = import_graph(tmp_path)
    violations = arrow_violations(graph)
    assert "sora_mcp.models -> sora_mcp.service: runs against the arrows" in violations
    assert any(v.startswith("sora_mcp.engine.config -> sora_mcp.config") for v in violations)
    new = folder_cycles(graph) - KNOWN_CYCLES
    assert frozenset({"sora_mcp.prompting.catalog", "sora_mcp.prompting.guardrails"}) in new
