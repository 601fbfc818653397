"""One command for every sora-mcp benchmark; writes bench/RESULTS.md.

    python bench/run.py [--reps N] [--smoke] [--only NAME[,NAME]] [--out bench/RESULTS.md]

Rows (names for --only): startup, latency, download, polls, batch, render, memory, agent, cluster. Every process
binds 127.0.0.1 only; all state lives in one temp folder removed at the end. `--smoke` runs one
repetition at tiny sizes (CI: under a minute, times never asserted). The default (3 repetitions)
finishes in a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the bench modules import each other flat

import bench_agent
import bench_batch
import bench_cluster
import bench_download
import bench_engine
import bench_latency
import bench_memory
import bench_polls
import bench_startup
import report
from common import Row

NAMES = ("startup", "latency", "download", "polls", "batch", "render", "memory", "agent", "cluster")
FIGURES = {
    "startup": "stdio cold start, spawn → `tools/list` answered",
    "latency": "`get_status` round trip over stdio, and over Streamable HTTP",
    "download": "200 MB download, throughput and server peak RSS growth",
    "polls": "polls per completed job (engine with poll-after set)",
    "batch": "50-job batch, concurrency 8, 429s injected",
    "render": "engine render + encode of a 4 s 1280x720 clip",
    "memory": "memory of an idle server, and with 20 jobs in flight",
    "agent": "agent bytes: `tools/list`, and per journey (create → wait → download → list of 5 → spend)",
    "cluster": "`list_videos` text filter on a 100,000-job ledger (SQLite, PostgreSQL), and jobs per minute "
    "through 1 vs 2 instances",
}


@dataclass
class Plan:
    reps: int
    iterations: int  # get_status calls per repetition
    download_mb: int
    batch_jobs: int
    memory_jobs: int
    smoke: bool


def plan(args: argparse.Namespace) -> Plan:
    if args.smoke:
        return Plan(reps=1, iterations=20, download_mb=5, batch_jobs=5, memory_jobs=3, smoke=True)
    return Plan(reps=args.reps, iterations=200, download_mb=200, batch_jobs=50, memory_jobs=20, smoke=False)


def steps(p: Plan, root: Path) -> dict[str, Callable[[], Awaitable[Row]]]:
    async def render() -> Row:
        # a few hundred ms a rep, and its ratios sit close to the target: more reps, steadier medians
        return await anyio.to_thread.run_sync(bench_engine.run, p.reps if p.smoke else 3 * p.reps)

    polls = {"poll_after_ms": 100, "slowdown": 1.0} if p.smoke else {}
    return {
        "startup": lambda: bench_startup.run(p.reps if p.smoke else 4 * p.reps, root),  # noisiest row
        "latency": lambda: bench_latency.run(p.reps, p.iterations, root),
        "download": lambda: bench_download.run(p.reps if p.smoke else 2 * p.reps, p.download_mb, root),
        "polls": lambda: bench_polls.run(p.reps, root, **polls),
        "batch": lambda: bench_batch.run(p.reps if p.smoke else max(1, p.reps - 1), p.batch_jobs, root),
        "render": render,
        "memory": lambda: bench_memory.run(p.reps if p.smoke else 2, p.memory_jobs, root),
        "agent": lambda: bench_agent.run(root),  # bytes are deterministic: one run
        "cluster": lambda: bench_cluster.run(
            root / "cluster",
            ledger_jobs=10_000 if p.smoke else 100_000,
            queries=20 if p.smoke else 200,
            jobs=10 if p.smoke else 100,
        ),
    }


def failed(name: str, exc: BaseException) -> Row:
    """A row that says the benchmark broke (the table is still written, and the exit code is 1)."""
    detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:300]
    return Row(
        FIGURES[name], "—", f"FAILED: {detail}", "—", "—", "**no**", "the benchmark raised; see stderr"
    )


async def main_async(args: argparse.Namespace) -> int:
    wanted = [n.strip() for n in (args.only or ",".join(NAMES)).split(",") if n.strip()]
    unknown = sorted(set(wanted) - set(NAMES))
    if unknown:
        print(
            f"Error: unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}.",
            file=sys.stderr,
        )
        return 2
    p = plan(args)
    rows: list[tuple[int, Row]] = []
    started = time.perf_counter()
    ok = True
    with tempfile.TemporaryDirectory(prefix="sora-bench-") as tmp:
        todo = steps(p, Path(tmp))
        for name in [n for n in NAMES if n in wanted]:
            t0 = time.perf_counter()
            print(f"[bench] {name} ...", file=sys.stderr, flush=True)
            try:
                row = await todo[name]()
            except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the others
                traceback.print_exc()
                row, ok = failed(name, exc), False
            print(
                f"[bench] {name}: {row.measured} → {row.ratio} ({time.perf_counter() - t0:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
            rows.append((NAMES.index(name) + 1, row))
    command = "python bench/run.py " + " ".join(args.argv)
    text = report.markdown(
        rows, command=command.strip(), elapsed_s=time.perf_counter() - started, smoke=p.smoke
    )
    report.write(args.out, text)
    print(text)
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run every sora-mcp benchmark and write bench/RESULTS.md.")
    parser.add_argument("--reps", type=int, default=3, help="repetitions per benchmark (default 3)")
    parser.add_argument("--smoke", action="store_true", help="one repetition, tiny sizes (for CI)")
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(NAMES)}")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "RESULTS.md",
        help="where to write the results table (default bench/RESULTS.md)",
    )
    args = parser.parse_args(argv)
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    args.argv = list(sys.argv[1:] if argv is None else argv)
    result: Any = anyio.run(main_async, args)
    return int(result)


if __name__ == "__main__":
    sys.exit(main())
