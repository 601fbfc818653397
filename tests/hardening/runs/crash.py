"""SIGKILL the server at random points of create / wait / download, restart it, check nothing is lost.

The engine runs in this process (it is the backend, not the thing being crashed). After each
kill a fresh `sora-mcp serve` starts on the same data dir; without any tool call, its start-up
recovery must bring the ledger level with the engine: every job the engine has is in the
ledger, and every completed one is archived with the engine's exact bytes (sha256).
"""

from __future__ import annotations

import json
import logging
import random
import sqlite3
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from tests.hardening.runs.common import SECRET_KEY, engine_sha256, file_sha256
from tests.hardening.runs.serve_proc import ServeProcess

log = logging.getLogger("tests.hardening.runs.crash")
POINTS = ("create", "wait", "download")


@dataclass
class CrashReport:
    kills: int = 0
    by_point: dict[str, int] = field(default_factory=dict)
    jobs: int = 0
    archived_ok: int = 0
    problems: list[str] = field(default_factory=list)


def engine_jobs(base_url: str) -> dict[str, str]:
    req = urllib.request.Request(
        f"{base_url}/videos?limit=100", headers={"Authorization": f"Bearer {SECRET_KEY}"}
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return {v["id"]: v["status"] for v in json.load(resp)["data"]}


def ledger_state(data_dir: Path) -> tuple[set[str], dict[str, tuple[str, str]]]:
    path = data_dir / "ledger.sqlite3"
    if not path.exists():
        return set(), {}
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        ids = {r[0] for r in con.execute("SELECT id FROM jobs")}
        assets = {
            r[0]: (r[1], r[2])
            for r in con.execute("SELECT video_id, path, sha256 FROM assets WHERE variant = 'video'")
        }
    finally:
        con.close()
    return ids, assets


async def _drive(url: str, point: str, rng: random.Random) -> None:
    async with Client(url) as c:
        created = await c.call_tool(
            "create_video", {"prompt": f"A crash test clip {rng.random():.6f}", "size": "720x1280"}
        )
        if point == "create" or created.is_error:
            return
        vid = created.structured_content["id"]
        if point == "wait":
            await c.call_tool("get_status", {"video_id": vid, "wait_seconds": 45})
            return
        await c.call_tool("get_status", {"video_id": vid, "wait_seconds": 45})
        await c.call_tool("download_asset", {"video_id": vid})


async def kill_during(proc: ServeProcess, point: str, rng: random.Random) -> None:
    """Run the journey up to `point` and SIGKILL the server at a random moment in it."""
    delay = {
        "create": rng.uniform(0.0, 0.4),
        "wait": rng.uniform(0.3, 3.0),
        "download": rng.uniform(0.5, 5.0),
    }[point]

    async def killer() -> None:
        await anyio.sleep(delay)
        await anyio.to_thread.run_sync(proc.kill)

    async with anyio.create_task_group() as tg:
        tg.start_soon(killer)
        with anyio.move_on_after(delay + 30):
            try:
                await _drive(proc.url, point, rng)
            except Exception as exc:  # noqa: BLE001 - the connection dies with the server; that is the point
                log.debug("client saw the kill: %s", type(exc).__name__)


def settled(base_url: str, data_dir: Path) -> tuple[list[str], int]:
    """(what is still missing, how many completed jobs are archived correctly)."""
    missing: list[str] = []
    ok = 0
    ids, assets = ledger_state(data_dir)
    for vid, status in engine_jobs(base_url).items():
        if vid not in ids:
            missing.append(f"{vid} ({status}) is not in the ledger")
        elif status == "completed":
            if vid not in assets:
                missing.append(f"{vid} is completed but not archived")
                continue
            rel, sha = assets[vid]
            path = data_dir / rel
            if not path.is_file() or file_sha256(path) != sha or sha != engine_sha256(base_url, vid):
                missing.append(f"{vid}: archived file does not match the engine's bytes")
            else:
                ok += 1
    return missing, ok


async def crash_cycles(
    settings: Any, base_url: str, cycles: int, *, seed: int = 20, settle_s: float = 60.0
) -> CrashReport:
    rng = random.Random(seed)
    report = CrashReport()
    proc = ServeProcess(settings, "http")
    try:
        for i in range(cycles):
            point = POINTS[i % len(POINTS)]
            await kill_during(proc, point, rng)
            report.kills += 1
            report.by_point[point] = report.by_point.get(point, 0) + 1
            proc = ServeProcess(settings, "http")
            missing, ok = await _settle(base_url, settings.data_dir, settle_s)
            if missing:
                report.problems.append(f"after kill #{i + 1} during {point}: " + "; ".join(missing))
            report.archived_ok = ok
        report.jobs = len(engine_jobs(base_url))
    finally:
        proc.close()
    return report


async def _settle(base_url: str, data_dir: Path, limit_s: float) -> tuple[list[str], int]:
    # Recovery works in the background: give it time, but bound the wait.
    deadline = time.monotonic() + limit_s
    while True:
        missing, ok = await anyio.to_thread.run_sync(settled, base_url, data_dir)
        unfinished = [s for s in engine_jobs(base_url).values() if s in ("queued", "in_progress")]
        if (not missing and not unfinished) or time.monotonic() > deadline:
            return missing, ok
        await anyio.sleep(0.5)
