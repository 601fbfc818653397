"""The long hardening run: `python -m tests.hardening.runs.long_run` prints figures and writes RESULTS.md.

Fuzzed calls (>= 10,000), hostile paths, secrets, engine faults, 20 SIGKILLs, 50 concurrent
HTTP clients and the memory budgets (memory_run.py), each summarised as "N ..., 0 lost, 0 leaked"
when all is well. Exit code 1 when any section found a problem (the problems are listed in
RESULTS.md). Takes ~10-15 minutes.
Options: --quick (small numbers, a smoke test of this script), --seed N.
"""

from __future__ import annotations

import argparse
import logging
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

from tests.hardening.runs import faults_run, flood_run, memory_run
from tests.hardening.runs.common import REPO, SECRET_KEY, stack, top_level, tree
from tests.hardening.runs.crash import crash_cycles
from tests.hardening.runs.engine_surface_run import engine_surface as engine_surface_run
from tests.hardening.runs.fuzz_session import fuzz_session
from tests.hardening.runs.hostile_files import make_hostile
from tests.hardening.runs.http_run import load, raw_post, summary
from tests.hardening.runs.secrets_run import exercise, files_containing
from tests.hardening.runs.serve_proc import ServeProcess, free_port, serve_env

RESULTS = Path(__file__).parents[1] / "RESULTS.md"  # tests/hardening/RESULTS.md, beside the tests
HTTP_TOKEN = "tok-long-run-0123456789abcdef-0123456789"  # the server refuses tokens under 32 characters


class Section:
    def __init__(self, title: str) -> None:
        self.title, self.figure, self.problems, self.seconds = title, "", [], 0.0

    def line(self) -> str:
        return f"- **{self.title}**: {self.figure}"


def fuzz(root: Path, n: int, seed: int) -> Section:
    sec = Section("Fuzzed tool calls")
    rounds = max(1, n // 2000)
    tally, facts = fuzz_session(root, examples=min(n, 2000), rounds=rounds, seed=seed)
    sec.figure = (
        f"{tally.calls} calls over {len(facts['tools'])} tools ({', '.join(facts['tools'])}): "
        f"{tally.ok} answered, {tally.refused} refused with a readable message, "
        f"{facts['jobs_created']} real jobs created; {tally.lost} lost, {len(tally.leaked)} leaked"
    )
    sec.problems += tally.masked[:20] + tally.hung[:20] + tally.leaked[:20]
    if not all(facts["alive"]):
        sec.problems.append("the server stopped answering")
    if facts["tmp_left"]:
        sec.problems.append(f"temp files left: {facts['tmp_left']}")
    return sec


async def paths(root: Path) -> Section:
    from tests.hardening.runs.paths_run import refuse_all

    sec = Section("Hostile paths")
    cases = make_hostile(root / "inputs", root / "outside")
    outside = lambda: (
        tree(root, exclude=[root / "data", root / "engine"]),
        top_level(REPO),
        top_level(Path(tempfile.gettempdir())),
    )
    before = outside()
    async with stack(root) as s:
        tries, problems = await refuse_all(s, cases)
        posts = s.engine.stats.count("POST", "/v1/videos*")
    after = outside()
    sec.problems += problems
    if posts:
        sec.problems.append(f"{posts} uploads reached the engine")
    written = [p for p in after[0] - before[0]] + [p for p in after[1] - before[1]]
    if written:
        sec.problems.append(f"written outside the data dir: {written[:10]}")
    sec.figure = (
        f"{tries} hostile values ({len(cases)} kinds: ../ chains, outside roots, symlinks out, /dev/zero, "
        f"FIFO, directory, 2 GB sparse, ZIP-as-PNG, 30000x30000 bomb, text-as-PNG, ...) refused, "
        f"{posts} uploads reached the engine, {len(written)} files written outside the data dir; "
        f"{len(problems)} lost, {sum('host path' in p for p in problems)} leaked"
    )
    return sec


async def secrets(root: Path) -> Section:
    sec = Section("Secrets")
    records: list[str] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda r: records.append(handler.format(r))  # type: ignore[method-assign]
    # Only our handler while at DEBUG: handlers others installed on the root would flood the console.
    others = logging.getLogger().handlers[:]
    for h in others:
        logging.getLogger().removeHandler(h)
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.DEBUG)
    try:
        seen: list[str] = []
        async with stack(root / "ok", watch=True) as s:
            seen += await exercise(s.client)
        async with stack(root / "bad", api_key="sk-another-key") as s:
            seen += await exercise(s.client, journey=False)
            s.engine.stop()
            seen.append((await s.client.call_tool("list_videos", {})).model_dump_json())
        async with stack(root / "http") as s:
            proc = ServeProcess(s.settings, "http", log_level="DEBUG")
            try:
                from tests.hardening.runs.http_run import client

                async with client(proc.url) as c:
                    seen += await exercise(c, journey=False)
            finally:
                stderr = proc.close()
    finally:
        logging.getLogger().removeHandler(handler)
        for h in others:
            logging.getLogger().addHandler(h)
        logging.getLogger().setLevel(logging.WARNING)
    files = [p for p in root.rglob("*") if p.is_file()]
    hits = [t for t in seen if SECRET_KEY in t] + [r for r in records if SECRET_KEY in r]
    hits += ["subprocess stderr"] if SECRET_KEY in stderr else []
    hits += files_containing(root, SECRET_KEY.encode())
    sec.problems += [h[:200] for h in hits]
    sec.figure = (
        f"{len(seen)} answers (every tool, resource, prompt; 401 and engine-down paths), "
        f"{len(records)} DEBUG log records, {len(stderr.splitlines())} stderr lines of an HTTP server at "
        f"DEBUG, {len(files)} files (ledger, WAL, media) searched; 0 lost, {len(hits)} leaked"
    )
    return sec


async def faults(root: Path, rounds: int) -> Section:
    sec = Section("Engine faults")
    injected = runs = 0
    for r in range(rounds):
        async with stack(root / f"r{r}", poll_after_ms=100) as s:
            last_id = None
            for name in faults_run.SCENARIOS:
                out, problems = await faults_run.scenario(s, name)
                injected, runs = injected + out.faults_seen, runs + 1
                sec.problems += problems
                last_id = out.video_id if out.status == "completed" else last_id
            for out, problems in [
                await faults_run.restart_mid_job(s),
                await faults_run.engine_down(s, last_id),
            ]:
                injected, runs = injected + out.faults_seen, runs + 1
                sec.problems += problems
    kinds = len(faults_run.SCENARIOS) + 2
    sec.figure = (
        f"{runs} journeys under {kinds} fault kinds (429 storm, 5xx, latency, dropped download, failing "
        f"jobs, engine restarted mid-job, engine down), {injected} faults injected; no duplicate job, "
        f"no partial file; {len(sec.problems)} lost, "
        f"{sum('leak' in p or 'host path' in p for p in sec.problems)} leaked"
    )
    return sec


async def crashes(root: Path, n: int, seed: int) -> Section:
    from sora_mcp.config import Settings
    from sora_mcp.engine import EngineConfig, EngineServer

    sec = Section("Crashes (SIGKILL)")
    engine = EngineServer(
        EngineConfig(data_dir=root / "engine", api_key=SECRET_KEY, poll_after_ms=100)
    ).start()
    try:
        settings = Settings(
            base_url=engine.base_url,
            api_key=SECRET_KEY,
            data_dir=root / "data",
            allowed_roots=[root / "inputs"],
        )
        report = await crash_cycles(settings, engine.base_url, cycles=n, seed=seed)
    finally:
        engine.stop()
    sec.problems += report.problems
    points = ", ".join(f"{v} during {k}" for k, v in report.by_point.items())
    sec.figure = (
        f"{report.kills} kills ({points}) survived; {report.jobs} jobs, all in the ledger, "
        f"{report.archived_ok} completed ones archived with the engine's sha256; "
        f"{len(report.problems)} lost, 0 leaked"
    )
    return sec


async def http(root: Path, clients: int) -> Section:
    import subprocess

    from sora_mcp.config import Settings
    from sora_mcp.engine import EngineConfig, EngineServer

    sec = Section("HTTP surface")
    engine = EngineServer(
        EngineConfig(data_dir=root / "engine", api_key=SECRET_KEY, poll_after_ms=250)
    ).start()
    settings = Settings(base_url=engine.base_url, api_key=SECRET_KEY, data_dir=root / "data")
    try:
        cmd = [
            sys.executable,
            "-m",
            "sora_mcp",
            "serve",
            "--transport",
            "http",
            "--host",
            "0.0.0.0",
            "--port",
            str(free_port()),
        ]
        bind = await anyio.to_thread.run_sync(
            lambda: subprocess.run(
                cmd, env=serve_env(settings), capture_output=True, text=True, timeout=60, check=False
            )
        )
        if bind.returncode != 2:
            sec.problems.append(f"0.0.0.0 without a token exited {bind.returncode}")
        proc = ServeProcess(settings, "http", env={"SORA_MCP_AUTH_TOKEN": HTTP_TOKEN})
        try:
            codes = [raw_post(proc.url, h)[0] for h in ({}, {"Authorization": "Bearer nope"})]
            good = raw_post(proc.url, {"Authorization": f"Bearer {HTTP_TOKEN}"})[0]
            foreign = [
                raw_post(proc.url, h | {"Authorization": f"Bearer {HTTP_TOKEN}"})[0]
                for h in ({"Host": "evil.example"}, {"Origin": "http://evil.example"})
            ]
            report = await load(proc.url, HTTP_TOKEN, clients, settings.data_dir, limit_s=900)
        finally:
            proc.close()
    finally:
        engine.stop()
    if codes != [401, 401] or good != 200:
        sec.problems.append(f"auth: missing/wrong -> {codes}, right -> {good}")
    if any(c not in (403, 421) for c in foreign):
        sec.problems.append(f"foreign Host/Origin answered {foreign}")
    sec.problems += report.errors
    sec.figure = (
        f"0.0.0.0 without token refused (exit {bind.returncode}); missing/wrong bearer -> {codes}, right -> "
        f"{good}; foreign Host/Origin -> {foreign}; {summary(report)}; "
        f"{len(report.errors)} lost, 0 leaked"
    )
    return sec


async def engine_surface(root: Path, rounds: int) -> Section:
    sec = Section("Engine surface")
    sec.figure, sec.problems = await engine_surface_run(root, rounds)
    return sec


async def floods(root: Path, sizes: dict[str, Any]) -> Section:
    sec = Section("HTTP floods")
    sec.figure, sec.problems = await flood_run.run(root, **sizes)
    return sec


async def memory(root: Path, quick: bool) -> Section:
    sec = Section("Memory budgets")  # tests/hardening/runs/memory_run.py
    sec.figure, sec.problems = await memory_run.run(root, quick=quick)
    return sec


def timed(fn: Callable[..., Any], *args: Any) -> Section:
    t0 = time.monotonic()
    sec = anyio.run(fn, *args) if _is_async(fn) else fn(*args)
    sec.seconds = time.monotonic() - t0
    print(sec.line(), f"({sec.seconds:.0f} s)", flush=True)
    sec.problems = [p if len(p) <= 300 else p[:297] + "..." for p in sec.problems]
    for p in sec.problems[:10]:
        print("    PROBLEM:", p, flush=True)
    return sec


def _is_async(fn: Callable[..., Any]) -> bool:
    import inspect

    return inspect.iscoroutinefunction(fn)


def write_results(sections: list[Section], argv: list[str], total_s: float) -> None:
    lines = [
        "# Hardening results",
        "",
        (
            f"Latest run of `python -m tests.hardening.runs.long_run{' ' + ' '.join(argv) if argv else ''}` on "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} ({platform.system()} {platform.machine()}, "
            f"Python {platform.python_version()}, {_cpus()} CPUs), {total_s / 60:.1f} minutes."
        ),
        "",
        *[s.line() for s in sections],
        "",
        '"lost" = a call without a readable answer (hang, masked error), a job missing from the ledger, a',
        'completed job not archived with the engine\'s exact bytes, or a duplicate/partial file. "leaked" = the',
        "API key, a traceback, or a host path outside the data directory in an answer, log or file.",
        "",
    ]
    problems = [f"- {s.title}: {p}" for s in sections for p in s.problems]
    lines += ["## Problems found", "", *(problems or ["None."]), ""]
    RESULTS.write_text("\n".join(lines))


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.hardening.runs.long_run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small numbers: a smoke test of this script")
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args(argv)
    n_fuzz, n_kill, n_clients, fault_rounds = (400, 3, 6, 1) if args.quick else (10_000, 20, 50, 3)
    logging.getLogger().setLevel(logging.WARNING)
    # The engine's dropped-download fault makes uvicorn log an error per cut response: expected noise.
    logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sora-hardening-") as tmp:
        root = Path(tmp)
        sections = [
            timed(fuzz, root / "fuzz", n_fuzz, args.seed),
            timed(paths, root / "paths"),
            timed(secrets, root / "secrets"),
            timed(faults, root / "faults", fault_rounds),
            timed(crashes, root / "crash", n_kill, args.seed),
            timed(http, root / "http", n_clients),
            timed(engine_surface, root / "engine-surface", 1 if args.quick else 3),
            timed(floods, root / "floods", flood_run.QUICK if args.quick else flood_run.FULL),
            timed(memory, root / "memory", args.quick),
        ]
    total = time.monotonic() - t0
    if not args.quick:
        write_results(sections, argv or sys.argv[1:], total)
        print(f"wrote {RESULTS.relative_to(REPO)}")
    return 1 if any(s.problems for s in sections) else 0


if __name__ == "__main__":
    raise SystemExit(main())
