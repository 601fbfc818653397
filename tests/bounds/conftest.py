"""Fixtures for the bounds tests: the hostile backend, and sora-mcp on top of it as users run it."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from sora_mcp.config import Settings
from sora_mcp.server import build_server
from sora_mcp.service import VideoService
from tests.bounds.hostile import Hostile, hostile

# Has '/', '+' and '=' so every encoding of it differs from the key itself.
SECRET_KEY = "sk-bounds/SECRET+key=0xF00D-4e5f6a7b"


@pytest.fixture
def backend() -> Iterator[Hostile]:
    server = hostile()
    yield server
    server.stop()


@pytest.fixture
def other_origin() -> Iterator[Hostile]:
    """A second server on another port: where a redirect tries to send the request."""
    server = hostile()
    yield server
    server.stop()


def make_settings(root: Path, base_url: str, **overrides: Any) -> Settings:
    (root / "inputs").mkdir(parents=True, exist_ok=True)
    values: dict[str, Any] = {
        "base_url": base_url,
        "api_key": SECRET_KEY,
        "data_dir": root / "data",
        "allowed_roots": [root / "inputs"],
        "watch": False,
        "archive_variants": ["video"],
        "request_timeout_s": 10.0,
    }
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def mcp(settings: Settings) -> AsyncIterator[Client]:
    """The in-process official Client on a VideoService built from `settings`."""
    async with VideoService(settings) as service, Client(build_server(service)) as client:
        yield client


def text_of(result: Any) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content)


def serve_env(settings: Settings, **extra: str) -> dict[str, str]:
    """Environment for a `sora-mcp serve` subprocess with the same settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SORA_MCP_", "OPENAI_"))}
    env.update(
        SORA_MCP_BASE_URL=settings.base_url or "",
        SORA_MCP_API_KEY=SECRET_KEY,
        SORA_MCP_DATA_DIR=str(settings.data_dir),
        SORA_MCP_WATCH="false",
        SORA_MCP_ALLOWED_ROOTS=os.pathsep.join(str(r) for r in settings.allowed_roots),
        SORA_MCP_ARCHIVE_VARIANTS="video",
        SORA_MCP_REQUEST_TIMEOUT_S=str(settings.request_timeout_s),
    )
    env.update(extra)
    return env


def child_servers() -> list[int]:
    """PIDs of `python -m sora_mcp serve` processes this test process started."""
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == me and b"sora_mcp" in cmdline and b"serve" in cmdline:
            found.append(int(entry))
    return found


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM) so far, in MB: exact, no sampling."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


PYTHON = sys.executable
