"""The benchmark command's smoke run: every row of bench/RESULTS.md is present and filled.

Runs `python bench/run.py --smoke --out <tmp>` as a user (or CI) would. Benchmarks are not timed
tests: no duration is asserted, only that each figure was measured and reported with a verdict.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIGURES = (
    "stdio cold start",
    "`get_status` round trip",
    "MB download",
    "polls per completed job",
    "-job batch, concurrency 8, 429s injected",
    "engine render + encode",
    "memory of an idle server",
    "agent bytes",
    "`list_videos` text filter on a 100,000-job ledger",
)


def _table_rows(text: str) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| #"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    return rows


@pytest.mark.bench
def test_smoke_run_fills_every_row(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--out", str(out)],
        check=False,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = out.read_text()
    rows = _table_rows(text)
    assert len(rows) == len(FIGURES), text
    for figure, row in zip(FIGURES, rows, strict=True):
        assert figure in row[1], (figure, row)
        assert len(row) == 7 and all(cell for cell in row), row
        assert "FAILED" not in " ".join(row), row
        assert row[6] in ("yes", "**no**", "n/a"), row
    assert "## How each row was measured" in text
    assert "nproc" not in text and "CPUs (" in text  # the machine line is there
    assert list(tmp_path.iterdir()) == [out], "the smoke run left files behind"
