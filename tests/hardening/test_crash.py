"""A few SIGKILLs of the real server process mid-create / mid-wait / mid-download (20 in the long run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sora_mcp.config import Settings
from tests.hardening.runs.common import SECRET_KEY
from tests.hardening.runs.crash import crash_cycles

pytestmark = pytest.mark.anyio


async def test_sigkill_at_each_point_loses_nothing(tmp_path: Path, engine_factory) -> None:
    engine = engine_factory(api_key=SECRET_KEY, poll_after_ms=100)
    settings = Settings(
        base_url=engine.base_url,
        api_key=SECRET_KEY,
        data_dir=tmp_path / "data",
        allowed_roots=[tmp_path / "inputs"],
    )
    report = await crash_cycles(settings, engine.base_url, cycles=3, seed=3)
    assert report.kills == 3 and set(report.by_point) == {"create", "wait", "download"}
    assert report.problems == [], "\n".join(report.problems)
    assert report.jobs >= 1 and report.archived_ok >= 1, report
