"""docs/ARCHITECTURE.md matches the tree: every module it names exists, every package is drawn.

A renamed or deleted module left in the document, or a new package missing from it, fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
PACKAGE = ROOT / "sora_mcp"


def modules() -> set[str]:
    """Every module path under sora_mcp, as 'a/b.py', with each of its path suffixes."""
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).parts
        names.update("/".join(parts[i:]) for i in range(len(parts)))
    return names


def test_every_module_named_exists() -> None:
    named = set(re.findall(r"`([\w/]+\.py)", DOC))
    known = modules()
    missing = sorted(n.removeprefix("sora_mcp/") for n in named if n.removeprefix("sora_mcp/") not in known)
    missing = [n for n in missing if not (ROOT / n).exists()]  # scripts/, tests/ and bench/ files
    assert not missing, f"docs/ARCHITECTURE.md names modules that do not exist: {missing}"


def test_every_package_is_drawn() -> None:
    packages = sorted(
        str(p.parent.relative_to(PACKAGE)) for p in PACKAGE.rglob("__init__.py") if p.parent != PACKAGE
    )
    absent = [p for p in packages if f"{p}/" not in DOC]
    assert not absent, f"docs/ARCHITECTURE.md does not draw these packages: {absent}"
