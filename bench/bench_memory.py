"""Row 7: memory of an idle server, and with jobs in flight (reported; no target).

Idle: `python -m sora_mcp serve` over stdio with default settings and a fresh data dir, after
`tools/list` has been answered (VmRSS). In flight: the same server creates N jobs back to back and
waits on them; VmRSS is sampled every 50 ms and the peak (VmHWM) is read at the end. Measured
twice: with the embedded engine (the default: it renders inside the server process) and against
an engine in its own process (the server's own share).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import anyio
from bench_startup import sora_params
from common import EngineProcess, Row, child_pid, fmt, hwm_mb, reset_hwm, rss_mb, summary
from mcp import Client
from servers import create_job, wait_done


async def _idle(root: Path) -> float | None:
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        async with Client(sora_params(Path(tmp) / "data")) as client:
            await client.list_tools()
            await anyio.sleep(0.3)
            pid = child_pid("sora_mcp serve")
            return rss_mb(pid) if pid else None


async def _in_flight(root: Path, jobs: int, base_url: str | None) -> tuple[float, float] | None:
    """(RSS once all jobs are created, peak RSS until they all completed)."""
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        async with Client(sora_params(Path(tmp) / "data", base_url)) as client:
            await client.list_tools()
            pid = child_pid("sora_mcp serve")
            if pid is None or not reset_hwm(pid):
                return None
            ids = [
                await create_job(client, f"Bench memory job {i}: rain on a neon street") for i in range(jobs)
            ]
            created = rss_mb(pid) or 0.0
            peak = [created]
            async with anyio.create_task_group() as tg:

                async def sample() -> None:
                    while True:
                        peak.append(rss_mb(pid) or 0.0)
                        await anyio.sleep(0.05)

                tg.start_soon(sample)
                await wait_done(client, ids, 240)
                tg.cancel_scope.cancel()
            return created, max(max(peak), hwm_mb(pid) or 0.0)


async def run(reps: int, jobs: int, root: Path) -> Row:
    idle = [v for v in [await _idle(root) for _ in range(reps)] if v is not None]
    embedded = [v for v in [await _in_flight(root, jobs, None) for _ in range(reps)] if v is not None]
    engine = EngineProcess(root / "engine-memory")
    try:
        external = [
            v for v in [await _in_flight(root, jobs, engine.base_url) for _ in range(reps)] if v is not None
        ]
    finally:
        engine.close()
    if not idle or not embedded or not external:
        text = "not measurable here (needs Linux /proc)"
        return Row(
            "memory of an idle server, and with jobs in flight", "—", text, "—", "reported", "n/a", text
        )

    def pair(values: list[tuple[float, float]]) -> str:
        return (
            f"{fmt(summary([v[0] for v in values]), 'MB', 1, 0)} after the creates, peak "
            f"{fmt(summary([v[1] for v in values]), 'MB', 1, 0)}"
        )

    return Row(
        figure=f"memory of an idle server, and with {jobs} jobs in flight",
        floor="—",
        measured=(
            f"idle: {fmt(summary(idle), 'MB', 1, 0)} RSS; {jobs} in flight with the embedded engine "
            f"(default): {pair(embedded)}; against an engine in its own process: {pair(external)}"
        ),
        ratio="—",
        target="reported",
        meets="n/a",
        how=(
            f"stdio server, fresh data dir, {reps} runs each; idle = VmRSS after tools/list; in flight = "
            f"{jobs} create_video calls back to back then get_status(video_ids, wait) with VmRSS sampled "
            "every 50 ms and VmHWM at the end (peak reset before the creates)"
        ),
        detail={"idle_mb": idle, "embedded_mb": embedded, "external_mb": external},
    )
