"""Row 9: several instances on one PostgreSQL (issue #23).

Two figures:
- the ledger query behind `list_videos(text=...)` (`Ledger.list_jobs(text=..., limit=20)`, a prompt
  substring: LIKE on SQLite, ILIKE on PostgreSQL, no index can serve it) on a ledger of 100,000
  jobs, SQLite and PostgreSQL, p50/p99 over repeated queries with varying words;
- jobs completed per minute through 1 and through 2 `sora-mcp serve --http --stateless`
  instances (one PostgreSQL, one data folder) against one standalone engine with 16 render
  workers, so its render lanes are not the bottleneck: MCP clients create and wait (on the other
  instance when there are two) until every job is completed and archived.

PostgreSQL is the throwaway cluster of tests/pg.py (Debian's server binaries); without them
the row says so. Quick mode (`--smoke`): 10,000 jobs and 10 jobs per run.
"""

from __future__ import annotations

import sqlite3
import statistics
import sys
import time
from pathlib import Path

import anyio
from common import Row

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # tests/pg.py and tests/cluster/procs.py start the real pieces

FIGURE = (
    "`list_videos` text filter on a 100,000-job ledger (SQLite, PostgreSQL), and jobs per minute through 1 vs 2 "
    "instances"
)
WORDS = ["lantern", "harbor", "meadow", "glacier", "comet", "orchard", "canyon", "violin", "ember", "tide"]


def _rows(n: int) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    for i in range(n):
        a, b = WORDS[i % 10], WORDS[(i * 7 + 3) % 10]
        prompt = f"A {a} near a {b} at dusk, take {i}"
        out.append(
            (
                f"video_{i:032x}",
                "completed",
                prompt,
                prompt,
                1_700_000_000 + i,
                1_700_000_000 + i,
                "create",
                "sora-2",
            )
        )
    return out


COLS = "id, status, prompt_given, prompt_sent, created_at, recorded_at, kind, model"


def _fill_sqlite(path: Path, n: int) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(f"INSERT INTO jobs({COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", _rows(n))
    conn.close()


def _fill_pg(url: str, n: int) -> None:
    import psycopg

    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY jobs ({COLS}) FROM STDIN") as copy:
            for row in _rows(n):
                copy.write_row(row)
        cur.execute("ANALYZE jobs")


def _query_times(location: Path | str, queries: int) -> list[float]:
    from sora_mcp.library import Ledger

    ledger = Ledger(location)
    try:
        times = []
        for q in range(queries + 3):
            text = f"{WORDS[q % 10]} near a {WORDS[(q * 3 + 1) % 10]}"
            t0 = time.perf_counter()
            ledger.list_jobs(text=text, limit=20)
            if q >= 3:  # 3 warm-ups
                times.append(time.perf_counter() - t0)
        return times
    finally:
        ledger.close()


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


async def _throughput(root: Path, url: str, instances: int, jobs: int, workers: int) -> float:
    from tests.cluster.procs import TOKEN, client, cluster

    with cluster(root, url, instances=instances, render_workers=16) as c:
        urls = [i.url for i in c.instances]
        todo = iter(range(jobs))
        t0 = time.perf_counter()

        async def worker(w: int) -> None:
            async with client(urls[0], TOKEN, "auto") as a, client(urls[-1], TOKEN, "auto") as b:
                for i in todo:
                    made = await (a, b)[i % 2].call_tool("create_video", {"prompt": f"Bench cluster job {i}"})
                    vid = made.structured_content["id"]
                    while True:
                        got = await (b, a)[i % 2].call_tool(
                            "get_status", {"video_id": vid, "wait_seconds": 30}
                        )
                        job = got.structured_content["jobs"][0]
                        if job["status"] != "queued" and job["status"] != "in_progress" and job["assets"]:
                            break

        async with anyio.create_task_group() as tg:
            for w in range(workers):
                tg.start_soon(worker, w)
        return jobs / ((time.perf_counter() - t0) / 60)


async def run(root: Path, *, ledger_jobs: int, queries: int, jobs: int, workers: int = 8) -> Row:
    from sora_mcp.library import Ledger
    from tests.pg import PostgresCluster, find_bin_dir

    root.mkdir(parents=True, exist_ok=True)
    sqlite_path = root / "bench-ledger.sqlite3"
    Ledger(sqlite_path).close()
    _fill_sqlite(sqlite_path, ledger_jobs)
    sq = _query_times(sqlite_path, queries)
    bin_dir = find_bin_dir()
    if bin_dir is None:
        return Row(FIGURE, "—", "PostgreSQL not installed here", "—", "reported", "n/a", "")
    pg = PostgresCluster(bin_dir).start()
    try:
        url = pg.new_database()
        Ledger(url).close()
        await anyio.to_thread.run_sync(_fill_pg, url, ledger_jobs)
        pq = _query_times(url, queries)
        one = await _throughput(root / "one", pg.new_database(), 1, jobs, workers)
        two = await _throughput(root / "two", pg.new_database(), 2, jobs, workers)
    finally:
        pg.stop()
    ms = 1000.0
    measured = (
        f"list (text filter, {ledger_jobs:,} jobs, n={queries}): SQLite p50 {_pct(sq, 50) * ms:.1f} ms / "
        f"p99 {_pct(sq, 99) * ms:.1f} ms; PostgreSQL p50 {_pct(pq, 50) * ms:.1f} ms / p99 {_pct(pq, 99) * ms:.1f} ms. "
        f"Throughput ({jobs} jobs, {workers} clients): 1 instance {one:.1f} jobs/min, 2 instances {two:.1f} jobs/min"
    )
    return Row(
        figure=FIGURE,
        floor="1 instance (same engine, same database)",
        measured=measured,
        ratio=f"{two / one:.2f}× with 2 instances",
        target="reported",
        meets="n/a",
        how=(
            "ledger filled by bulk insert (COPY on PostgreSQL), Ledger.list_jobs(text=two words, limit=20) timed after 3 "
            "warm-ups; throughput: tests/cluster/procs.py's cluster (standalone engine, 16 render workers, "
            "poll-after 2 s), MCP clients over Streamable HTTP creating on one instance and waiting on the other "
            "until completed and archived; on a 2-core machine the instances share the cores with the engine"
        ),
        detail={"sqlite_s": sq, "postgres_s": pq, "jobs_per_min": {"1": one, "2": two}},
    )
