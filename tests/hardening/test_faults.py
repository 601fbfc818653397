"""Engine faults (429, 5xx, latency, dropped downloads, failing jobs, restart, down): clear ends, no damage."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hardening.runs.common import stack
from tests.hardening.runs.faults_run import SCENARIOS, engine_down, restart_mid_job, scenario

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_fault_scenario(tmp_path: Path, name: str) -> None:
    async with stack(tmp_path, poll_after_ms=100) as s:
        out, problems = await scenario(s, name)
    assert problems == [], "\n".join(problems)
    assert out.faults_seen > 0, "the fault never fired: the scenario proved nothing"


async def test_engine_restarted_mid_job(tmp_path: Path) -> None:
    async with stack(tmp_path, poll_after_ms=100) as s:
        _out, problems = await restart_mid_job(s)
    assert problems == [], "\n".join(problems)


async def test_engine_down(tmp_path: Path) -> None:
    async with stack(tmp_path, poll_after_ms=100) as s:
        first, problems = await scenario(s, "latency spikes (400 ms per request)")
        assert problems == []
        out, problems = await engine_down(s, first.video_id)
    assert problems == [], "\n".join(problems)
    assert len(out.refusals) >= 2
