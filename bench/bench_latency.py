"""Row 2: `get_status` round trip over stdio and Streamable HTTP vs the same openai SDK call made directly.

One completed job (created through the server, so it is in the ledger and archived, as a user's
job would be). Per repetition and in turn: N × `client.videos.retrieve(id)` from the openai SDK
straight to the engine; N × `get_status(video_id)` through the MCP Client over stdio; the same over
Streamable HTTP; and N × a trivial tool on the bare hello-world server over stdio, for reference
(the MCP round trip's own cost), once on the SDK's stdio transport and once on the one sora-mcp
serves on (sora_mcp.cli.stdio). Added latency = median(get_status) − median(retrieve).

The row also splits the added time: the bare MCP round trip (the hello-world call on sora-mcp's
transport), and the official client's own re-validation of the result against get_status's
outputSchema (timed here with the same jsonschema calls the client makes), leaving what
sora-mcp's server adds.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench_startup import hello_params, sora_params
from common import EngineProcess, Row, fmt, summary, verdict
from mcp import Client
from openai import AsyncOpenAI
from servers import HttpServer, create_job, wait_done

TARGET_MS = 1.0


async def _time_calls(call: Callable[[], Awaitable[Any]], n: int) -> list[float]:
    for _ in range(max(3, n // 10)):  # warm connections and caches; not measured
        await call()
    out = []
    for _ in range(n):
        start = time.perf_counter()
        await call()
        out.append(time.perf_counter() - start)
    return out


async def run(reps: int, iterations: int, root: Path) -> Row:
    engine = EngineProcess(root / "engine-latency")
    http: HttpServer | None = None
    try:
        data = root / "server-latency"
        async with Client(sora_params(data, engine.base_url)) as stdio:
            vid = await create_job(stdio)
            await wait_done(stdio, [vid])
            http = HttpServer(data, engine.base_url)
            sdk = AsyncOpenAI(base_url=engine.base_url, api_key="bench-key", max_retries=0)
            times: dict[str, list[float]] = {"direct": [], "stdio": [], "http": [], "hello": [], "hello_pipes": []}
            added: dict[str, list[float]] = {"stdio": [], "http": []}
            sample = await stdio.call_tool("get_status", {"video_id": vid})
            size = len(sample.model_dump_json())
            schema = next(t.output_schema for t in (await stdio.list_tools()).tools if t.name == "get_status")
            validation = _validation_times(schema or {}, sample.structured_content, iterations * reps)
            async with (
                Client(http.url) as remote,
                Client(hello_params()) as hello,
                Client(hello_params("--pipes")) as hello_pipes,
            ):
                calls = {
                    "direct": lambda: sdk.videos.retrieve(vid),
                    "stdio": lambda: stdio.call_tool("get_status", {"video_id": vid}),
                    "http": lambda: remote.call_tool("get_status", {"video_id": vid}),
                    "hello": lambda: hello.call_tool("hello", {"name": "bench"}),
                    "hello_pipes": lambda: hello_pipes.call_tool("hello", {"name": "bench"}),
                }
                for _ in range(reps):
                    rep = {name: await _time_calls(call, iterations) for name, call in calls.items()}
                    for name, values in rep.items():
                        times[name].extend(values)
                    for name, deltas in added.items():
                        deltas.append(summary(rep[name])["median"] - summary(rep["direct"])["median"])
            await sdk.close()
    finally:
        if http is not None:
            http.close()
        engine.close()
    return _row(times, added, iterations, reps, size, validation)


def _validation_times(schema: dict[str, Any], data: Any, n: int) -> list[float]:
    """What the official MCP client spends re-validating one get_status result (as its session does)."""
    from jsonschema import exceptions, validators

    validator = validators.validator_for(schema)(schema)
    out = []
    for _ in range(n):
        start = time.perf_counter()
        exceptions.best_match(validator.iter_errors(data))
        out.append(time.perf_counter() - start)
    return out


def _row(times: dict[str, list[float]], added: dict[str, list[float]], n: int, reps: int, size: int,
         validation: list[float]) -> Row:
    s = {name: summary(values) for name, values in times.items()}
    delta = {name: s[name]["median"] - s["direct"]["median"] for name in added}
    check = summary(validation)["median"]
    own = delta["stdio"] - s["hello_pipes"]["median"] - check
    ok = all(d * 1000 <= TARGET_MS for d in delta.values())
    spread = {name: f"{min(v) * 1000:.2f}–{max(v) * 1000:.2f}" for name, v in added.items()}
    return Row(
        figure="`get_status` round trip over stdio, and over Streamable HTTP",
        floor=f"openai SDK `videos.retrieve` direct to the engine: {fmt(s['direct'], 'ms', 1000)}",
        measured=(
            f"stdio: {fmt(s['stdio'], 'ms', 1000)}; HTTP: {fmt(s['http'], 'ms', 1000)}"
            f" (for reference, a trivial tool on the hello-world server over stdio: "
            f"{fmt(s['hello'], 'ms', 1000)} on the SDK's stdio transport, "
            f"{fmt(s['hello_pipes'], 'ms', 1000)} on sora-mcp's)"
        ),
        ratio=(
            f"+{delta['stdio'] * 1000:.2f} ms stdio (per-rep {spread['stdio']}); "
            f"+{delta['http'] * 1000:.2f} ms HTTP (per-rep {spread['http']}). Of the stdio figure: "
            f"{s['hello_pipes']['median'] * 1000:.2f} ms is the bare MCP round trip (hello-world, same transport), "
            f"{check * 1000:.2f} ms the client re-validating the result, {own * 1000:.2f} ms sora-mcp's server"
        ),
        target=f"≤ {TARGET_MS:g} ms added (median)",
        meets=verdict(ok),
        how=(
            f"{reps} reps × {n} sequential calls per path on one completed job, interleaved by rep, after "
            "untimed warm-up calls; engine in its own process. get_status does more than a retrieve: the "
            "retrieve itself, one ledger transaction (status and poll count, SQLite), the library check of the "
            f"archived files, and a {size // 1024} KB result carrying the thumbnail inline as an MCP image"
        ),
        detail={"median_ms": {k: v["median"] * 1000 for k, v in s.items()}, "result_bytes": size,
                "client_validation_ms": check * 1000, "server_own_ms": own * 1000},
    )
