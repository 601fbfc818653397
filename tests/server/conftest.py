"""Fixtures for the MCP server tests: a VideoService on the embedded engine served over HTTP."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx2
import pytest

from sora_mcp.config import Settings
from sora_mcp.server import build_server
from sora_mcp.server.http import build_http_app
from sora_mcp.service import VideoService

SECRET_KEY = "sk-test-SECRET-9f8e7d6c5b4a"


@pytest.fixture
def keyed_engine(engine_factory):
    """The engine requiring our distinctive API key, so a missing or leaked key shows."""
    return engine_factory(api_key=SECRET_KEY)


@pytest.fixture
def settings(keyed_engine, data_dir: Path, tmp_path: Path) -> Settings:
    return Settings(
        base_url=keyed_engine.base_url,
        api_key=SECRET_KEY,
        data_dir=data_dir,
        allowed_roots=[tmp_path / "inputs"],
        watch=True,
    )


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[VideoService]:
    async with VideoService(settings) as svc:
        yield svc
    tmp = settings.tmp_dir
    leftovers = [p.name for p in tmp.iterdir()] if tmp.exists() else []
    assert leftovers == [], f"temp files left behind: {leftovers}"


@pytest.fixture
def server(service: VideoService):
    return build_server(service)


def server_env(settings: Settings) -> dict[str, str]:
    """Environment for a `sora-mcp serve` subprocess using the same engine and data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SORA_MCP_", "OPENAI_"))}
    env.update(
        SORA_MCP_BASE_URL=settings.base_url or "",
        SORA_MCP_API_KEY=SECRET_KEY,
        SORA_MCP_DATA_DIR=str(settings.data_dir),
    )
    return env


@asynccontextmanager
async def asgi_http(settings: Settings) -> AsyncIterator[tuple[VideoService, httpx2.AsyncClient]]:
    """A started VideoService and an httpx client on its whole HTTP app (guards, webhooks, probes)
    through ASGITransport: the app as `serve --transport http` builds it, without a socket."""
    async with VideoService(settings) as service:
        app = build_http_app(
            build_server(service), settings, transport="http", host="127.0.0.1", service=service
        ).app
        async with httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1"
        ) as http:
            yield service, http
