"""Row 1: stdio cold start, spawn → `tools/list` answered, against a bare MCPServer hello-world.

Both servers are spawned the same way by the official MCP Client over stdio (`python ...`),
alternately, after one untimed warm-up spawn each (so both find the files in the page cache).
sora-mcp runs as users start it: `python -m sora_mcp serve`, default settings (embedded engine,
which starts on first use), a fresh data dir per spawn.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from common import PYTHON, Row, clean_env, fmt, server_env, summary, verdict
from mcp import Client
from mcp.client.stdio import StdioServerParameters

HELLO = Path(__file__).with_name("hello_server.py")
TARGET = 1.3


def hello_params(*extra: str) -> StdioServerParameters:
    return StdioServerParameters(command=PYTHON, args=[str(HELLO), *extra], env=clean_env())


def sora_params(data_dir: Path, base_url: str | None = None, *extra: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=PYTHON, args=["-m", "sora_mcp", "serve", *extra], env=server_env(data_dir, base_url)
    )


async def time_to_tools(params: StdioServerParameters) -> tuple[float, int]:
    """Seconds from spawning the server to the `tools/list` answer; and how many tools it listed."""
    start = time.perf_counter()
    async with Client(params) as client:
        tools = await client.list_tools()
        elapsed = time.perf_counter() - start
    return elapsed, len(tools.tools)


async def run(reps: int, root: Path) -> Row:
    hello: list[float] = []
    sora: list[float] = []
    counts: set[int] = set()
    for rep in range(reps + 1):
        with tempfile.TemporaryDirectory(dir=root) as tmp:
            h, _ = await time_to_tools(hello_params())
            s, n = await time_to_tools(sora_params(Path(tmp) / "data"))
        counts.add(n)
        if rep:  # rep 0 is the warm-up
            hello.append(h)
            sora.append(s)
    hs, ss = summary(hello), summary(sora)
    ratio = ss["median"] / hs["median"]
    return Row(
        figure="stdio cold start, spawn → `tools/list` answered",
        floor=f"bare MCPServer hello-world: {fmt(hs, 'ms', 1000, 0)}",
        measured=f"`python -m sora_mcp serve`: {fmt(ss, 'ms', 1000, 0)}; {max(counts)} tools listed",
        ratio=f"{ratio:.2f}×",
        target=f"≤ {TARGET}×",
        meets=verdict(ratio <= TARGET),
        how=(
            f"official MCP Client spawns each over stdio ({sys.implementation.name} {PYTHON_VERSION}), "
            "timer from spawn to the tools/list answer; alternated, 1 untimed warm-up each; fresh data dir "
            "per sora-mcp spawn, default settings (embedded engine starts on first use, not here)"
        ),
        detail={"hello_s": hello, "sora_s": sora, "ratio": ratio, "note": NOTE},
    )


NOTE = ("Cold start: PyAV and Pillow are no longer imported at start-up (the library's derive_* helpers "
        "load on first use); openai, httpx-based backends, numpy and the engine were already lazy. What remains "
        "above the hello-world (measured with `python -X importtime` and timers) is sora-mcp's own modules, "
        "mostly pydantic model classes (~70 ms), building the tool schemas for 9 tools (~25 ms), Settings with "
        "pydantic-settings (~14 ms) and creating the ledger in a fresh data dir (~10 ms).")
PYTHON_VERSION = ".".join(map(str, sys.version_info[:3]))
