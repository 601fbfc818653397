"""The long run's "HTTP floods" section: `sora-mcp serve` subprocesses (embedded engine, 1024 open files)
under an idle-connection horde, an `initialize` flood and an event-stream hoard, with real journeys beside.

`python -m tests.hardening.runs.flood_run [--quick]` runs this section alone and prints its figure.
Bounded: at most `inits` POSTs within `limit_s`, `idle` connections, `streams` stream attempts.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from sora_mcp.config import Settings
from tests.hardening.runs.flood import (
    FloodReport,
    IdleHorde,
    initialize_flood,
    journey,
    open_stream,
    quick_call,
    rss_mb,
)
from tests.hardening.runs.serve_proc import ServeProcess

NOFILE = 1024  # a common default: the flood in issue 18 hit EMFILE here
RSS_GROWTH_MB = 150
STDERR_BYTES = 64_000


def _settings(root: Path) -> Settings:
    (root / "inputs").mkdir(parents=True, exist_ok=True)
    return Settings(data_dir=root / "data")


def _check_stderr(name: str, stderr: str, problems: list[str]) -> int:
    size = len(stderr.encode())
    if size > STDERR_BYTES:
        problems.append(f"{name}: stderr grew to {size} bytes")
    if "Traceback" in stderr:
        problems.append(f"{name}: a traceback in stderr: {stderr[stderr.index('Traceback') :][:200]}")
    return size


async def _legit_loop(
    url: str, data_dir: Path, stop: anyio.Event, done: dict[str, int], problems: list[str]
) -> None:
    """Real clients one after another while the flood runs: a journey per era, then quick calls."""
    for mode in ("legacy", "auto"):
        try:
            await journey(url, None, mode, data_dir, limit_s=240)
            done["journeys"] += 1
        except Exception as exc:  # noqa: BLE001 - recorded as a problem, the flood goes on
            problems.append(f"{mode} journey during the flood: {type(exc).__name__}: {str(exc)[:150]}")
    while not stop.is_set():
        for mode in ("auto", "legacy"):
            try:
                await quick_call(url, None, mode, limit_s=60)
                done["calls"] += 1
            except Exception as exc:  # noqa: BLE001
                problems.append(f"{mode} client during the flood: {type(exc).__name__}: {str(exc)[:150]}")
        await anyio.sleep(5)  # a client now and then, not a second flood


async def run(root: Path, *, inits: int, idle: int, streams: int, limit_s: float) -> tuple[str, list[str]]:
    problems: list[str] = []
    done = {"journeys": 0, "calls": 0}

    # 1. An idle horde past the connection cap, reopening what the server closes, beside a journey.
    proc = ServeProcess(_settings(root / "idle"), "http", nofile=NOFILE)
    try:
        start_mb = rss_mb(proc.proc.pid)[0]
        with IdleHorde(proc.port, idle) as horde:
            try:
                await journey(proc.url, None, "legacy", root / "idle" / "data", limit_s=240)
                await quick_call(proc.url, None, "auto")
                done["journeys"] += 1
            except Exception as exc:  # noqa: BLE001
                problems.append(
                    f"journey beside {idle} idle connections: {type(exc).__name__}: {str(exc)[:150]}"
                )
        idle_peak = rss_mb(proc.proc.pid)[1]
    finally:
        idle_err = _check_stderr("idle horde", proc.close(), problems)

    # 2. An initialize flood, real clients of both eras beside it.
    proc = ServeProcess(_settings(root / "init"), "http", nofile=NOFILE)
    report = FloodReport()
    try:
        init_start = rss_mb(proc.proc.pid)[0]
        stop = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(_legit_loop, proc.url, root / "init" / "data", stop, done, problems)
            await initialize_flood(proc.url, inits, limit_s=limit_s, report=report)
            stop.set()
        init_peak = rss_mb(proc.proc.pid)[1]
    finally:
        init_err = _check_stderr("initialize flood", proc.close(), problems)
    if report.errors or set(report.statuses) - {200}:
        problems.append(f"the flood itself was refused or failed: {report.line()}")

    # 3. An event-stream hoard against --transport sse: past the cap, streams are refused.
    proc = ServeProcess(_settings(root / "sse"), "sse", nofile=NOFILE)
    held: list[socket.socket] = []
    codes: dict[int, int] = {}
    try:
        for _ in range(streams):
            status, _, sock = open_stream(proc.port)
            codes[status] = codes.get(status, 0) + 1
            (held.append(sock) if status == 200 else sock.close())
        sse_peak = rss_mb(proc.proc.pid)[1]
    finally:
        for s in held:
            s.close()
        sse_err = _check_stderr("stream hoard", proc.close(), problems)
    cap = 64
    if codes.get(200, 0) > cap or (streams > cap and not codes.get(503)):
        problems.append(f"event streams not capped at {cap}: {codes}")

    for name, start, peak in (("idle", start_mb, idle_peak), ("flood", init_start, init_peak)):
        if peak - start > RSS_GROWTH_MB:
            problems.append(f"{name}: RSS grew {peak - start:.0f} MB (bound {RSS_GROWTH_MB})")
    figure = (
        f"{horde.opened} idle connections opened against a cap of 256 with 1024 open files "
        f"({horde.closed_by_server} closed by the server); {report.line()}; "
        f"{sum(codes.values())} event streams tried ({codes.get(200, 0)} held, "
        f"{codes.get(503, 0)} refused at the cap); "
        f"{done['journeys']} create→status→download journeys and {done['calls']} quick calls by real "
        f"clients (2026-07-28 and 2025-06-18) completed beside them; peak RSS {idle_peak:.0f} / "
        f"{init_peak:.0f} / {sse_peak:.0f} MB; stderr {idle_err} / {init_err} / {sse_err} bytes; "
        f"{len(problems)} lost, 0 leaked"
    )
    return figure, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.hardening.runs.flood_run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small numbers: a smoke test")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sora-floods-") as tmp:
        figure, problems = anyio.run(lambda: run(Path(tmp), **sizes))
    print(f"- **HTTP floods**: {figure} ({time.monotonic() - t0:.0f} s)")
    for p in problems[:20]:
        print("    PROBLEM:", p)
    return 1 if problems else 0


FULL: dict[str, Any] = {"inits": 10_000, "idle": 1_100, "streams": 200, "limit_s": 600}
QUICK: dict[str, Any] = {"inits": 600, "idle": 300, "streams": 80, "limit_s": 60}

if __name__ == "__main__":
    sys.exit(main())
