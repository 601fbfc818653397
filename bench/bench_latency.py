"""Row 2: `get_status` round trip over stdio and Streamable HTTP, against what any server must pay.

One completed job (created through the server, so it is in the ledger and archived, as a user's
job would be). Per repetition and in turn: N × `client.videos.retrieve(id)` from the openai SDK
straight to the engine; N × a trivial tool on the bare hello-world MCPServer over the SDK's stdio
transport and over its Streamable HTTP (the MCP round trip's own cost on the same transports
sora-mcp serves on); N × `get_status(video_id)` through the MCP Client over stdio and over
Streamable HTTP.

The floor for each transport is what any MCP server making the same retrieve must pay: the
hello-world round trip on that transport plus the direct retrieve. Ratio = median(get_status) /
(median(hello) + median(retrieve)). The row also reports what the official client spends
re-validating the result against get_status's outputSchema (timed here with the same jsonschema
calls the client makes).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench_startup import HELLO, hello_params, sora_params
from common import PYTHON, EngineProcess, Row, fmt, summary, verdict
from mcp import Client
from openai import AsyncOpenAI
from servers import HttpServer, create_job, wait_done

TARGET_RATIO = 1.25


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
    hello_http: HttpServer | None = None
    try:
        data = root / "server-latency"
        async with Client(sora_params(data, engine.base_url)) as stdio:
            vid = await create_job(stdio)
            await wait_done(stdio, [vid])
            http = HttpServer(data, engine.base_url)
            hello_http = HttpServer(root / "hello-latency", None, [PYTHON, str(HELLO), "--http"])
            sdk = AsyncOpenAI(base_url=engine.base_url, api_key="bench-key", max_retries=0)
            times: dict[str, list[float]] = {
                "direct": [],
                "stdio": [],
                "http": [],
                "hello": [],
                "hello_http": [],
            }
            ratios: dict[str, list[float]] = {"stdio": [], "http": []}
            sample = await stdio.call_tool("get_status", {"video_id": vid})
            size = len(sample.model_dump_json())
            schema = next(t.output_schema for t in (await stdio.list_tools()).tools if t.name == "get_status")
            validation = _validation_times(schema or {}, sample.structured_content, iterations * reps)
            async with (
                Client(http.url) as remote,
                Client(hello_params()) as hello,
                Client(hello_http.url) as hello_remote,
            ):
                calls = {
                    "direct": lambda: sdk.videos.retrieve(vid),
                    "stdio": lambda: stdio.call_tool("get_status", {"video_id": vid}),
                    "http": lambda: remote.call_tool("get_status", {"video_id": vid}),
                    "hello": lambda: hello.call_tool("hello", {"name": "bench"}),
                    "hello_http": lambda: hello_remote.call_tool("hello", {"name": "bench"}),
                }
                for _ in range(reps):
                    rep = {name: await _time_calls(call, iterations) for name, call in calls.items()}
                    for name, values in rep.items():
                        times[name].extend(values)
                    med = {name: summary(values)["median"] for name, values in rep.items()}
                    ratios["stdio"].append(med["stdio"] / (med["hello"] + med["direct"]))
                    ratios["http"].append(med["http"] / (med["hello_http"] + med["direct"]))
            await sdk.close()
    finally:
        for server in (http, hello_http):
            if server is not None:
                server.close()
        engine.close()
    return _row(times, ratios, iterations, reps, size, validation)


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


def _row(
    times: dict[str, list[float]],
    ratios: dict[str, list[float]],
    n: int,
    reps: int,
    size: int,
    validation: list[float],
) -> Row:
    s = {name: summary(values) for name, values in times.items()}
    med = {name: v["median"] for name, v in s.items()}
    floor = {"stdio": med["hello"] + med["direct"], "http": med["hello_http"] + med["direct"]}
    ratio = {name: med[name] / floor[name] for name in floor}
    check = summary(validation)["median"]
    ok = all(r <= TARGET_RATIO for r in ratio.values())
    spread = {name: f"{min(v):.2f}–{max(v):.2f}" for name, v in ratios.items()}
    return Row(
        figure="`get_status` round trip over stdio, and over Streamable HTTP",
        floor=(
            f"hello-world MCPServer round trip on the same SDK transport + openai SDK `videos.retrieve` direct "
            f"to the engine: stdio {floor['stdio'] * 1000:.2f} ms ({med['hello'] * 1000:.2f} + "
            f"{med['direct'] * 1000:.2f}), HTTP {floor['http'] * 1000:.2f} ms ({med['hello_http'] * 1000:.2f} + "
            f"{med['direct'] * 1000:.2f})"
        ),
        measured=(
            f"stdio: {fmt(s['stdio'], 'ms', 1000)}; HTTP: {fmt(s['http'], 'ms', 1000)}; "
            f"retrieve: {fmt(s['direct'], 'ms', 1000)}; hello stdio: {fmt(s['hello'], 'ms', 1000)}; "
            f"hello HTTP: {fmt(s['hello_http'], 'ms', 1000)}"
        ),
        ratio=(
            f"{ratio['stdio']:.2f}× stdio (per-rep {spread['stdio']}); {ratio['http']:.2f}× HTTP "
            f"(per-rep {spread['http']}); of get_status, {check * 1000:.2f} ms is the client re-validating "
            "the result"
        ),
        target=f"≤ {TARGET_RATIO:g}× (median)",
        meets=verdict(ok),
        how=(
            f"{reps} reps × {n} sequential calls per path on one completed job, interleaved by rep, after "
            "untimed warm-up calls; engine in its own process. get_status does more than a retrieve: the "
            "retrieve itself, one ledger transaction (status and poll count, SQLite), the library check of the "
            f"archived files, and a {size // 1024} KB result"
        ),
        detail={
            "median_ms": {k: v * 1000 for k, v in med.items()},
            "ratio": ratio,
            "result_bytes": size,
            "client_validation_ms": check * 1000,
        },
    )
