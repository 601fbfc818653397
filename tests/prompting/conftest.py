"""Fixtures for the prompting tests: the anyio backend and an isolated folder layout."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Dirs:
    root: Path  # an allowed root
    outside: Path  # a sibling folder that is not allowed
    tmp: Path  # where temp files go; must be empty after every test


@pytest.fixture
def dirs(tmp_path: Path) -> Iterator[Dirs]:
    d = Dirs(root=tmp_path / "root", outside=tmp_path / "outside", tmp=tmp_path / "tmp")
    for p in (d.root, d.outside, d.tmp):
        p.mkdir()
    yield d
    leftovers = sorted(p.name for p in d.tmp.iterdir())
    assert leftovers == [], f"temp files survived: {leftovers}"
