"""Row 1: stdio cold start, spawn → `tools/list` answered, against a bare MCPServer hello-world.

Both servers are spawned the same way by the official MCP Client over stdio (`python ...`),
alternately, after one untimed warm-up spawn each (so both find the files in the page cache).
sora-mcp runs as users start it: `python -m sora_mcp serve`, default settings (embedded engine,
which starts on first use), a fresh data dir per spawn.

Both sides run byte-compiled code: the MCP SDK's modules were compiled by pip when it installed
them, and `byte_compile_package()` compiles sora-mcp's the same way first (pip does so for an
installed sora-mcp too). Without it an editable checkout on a machine that sets
PYTHONDONTWRITEBYTECODE (this one does) recompiles every sora-mcp module on every spawn.
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


def byte_compile_package() -> None:
    """Write sora_mcp's __pycache__ (gitignored), as pip does at install time."""
    import compileall

    import sora_mcp

    if not compileall.compile_dir(str(Path(sora_mcp.__file__).parent), quiet=1):
        raise RuntimeError("could not byte-compile the sora_mcp package")


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
    byte_compile_package()
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
            "per sora-mcp spawn, default settings (embedded engine starts on first use, not here); both "
            "byte-compiled (the SDK by pip at install, sora_mcp by the benchmark first, as pip would)"
        ),
        detail={"hello_s": hello, "sora_s": sora, "ratio": ratio, "note": NOTE},
    )


NOTE = (
    "Cold start: PyAV, Pillow, openai, the httpx-based backends, numpy and the engine load on first use, "
    "not at start-up. What remains above the hello-world (timers and `python -X importtime`, 2026-12-04) is "
    "building the MCP tool schemas for 9 tools (~45 ms, pydantic JSON-schema generation in the SDK's "
    "func_metadata), importing sora-mcp's own modules, mostly pydantic model classes (~35 ms), pydantic-settings "
    "(~12 ms) and creating the ledger in a fresh data dir (~10 ms). Until 2026-12-04 the benchmark ran sora_mcp "
    "from source without bytecode (this machine sets PYTHONDONTWRITEBYTECODE=1), recompiling every module on "
    "each spawn: the same day, 1.29× without bytecode and 1.21× with it."
)
PYTHON_VERSION = ".".join(map(str, sys.version_info[:3]))
