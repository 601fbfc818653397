"""`/readyz` with clips in S3-compatible storage: ready while the store answers, 503 naming the
store (not its bucket, endpoint or keys) when it does not. moto's server on 127.0.0.1, and a
loopback port nobody listens on for a store that is down."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest

from sora_mcp.config import Settings
from sora_mcp.engine import EngineServer
from sora_mcp.server import build_server
from sora_mcp.server.http.app import build_http_app
from sora_mcp.service import VideoService
from tests.service.library.conftest import make_settings
from tests.store.conftest import ACCESS_KEY, SECRET_KEY

pytestmark = pytest.mark.anyio
TOKEN = "ready-test-token-" + "z" * 24


@asynccontextmanager
async def _probes(settings: Settings) -> AsyncIterator[httpx2.AsyncClient]:
    async with VideoService(settings) as service:
        app = build_http_app(
            build_server(service), settings, transport="http", host="127.0.0.1", service=service
        ).app
        async with httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1"
        ) as http:
            yield http


def _dead_port() -> int:
    with socket.socket() as s:  # bound, never listening, closed: connections to it are refused
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_readyz_follows_the_s3_store(
    aws: Any, bucket: str, engine: EngineServer, data_dir: Path
) -> None:
    settings = make_settings(engine, data_dir, asset_store=f"s3://{bucket}/team", auth_token=TOKEN)
    async with _probes(settings) as http:
        ready = await http.get("/readyz")
        assert ready.status_code == 200 and ready.json() == {"status": "ready"}

    down = f"http://127.0.0.1:{_dead_port()}"
    aws(endpoint=down)  # the same bucket behind an endpoint that refuses connections
    async with _probes(settings) as http:
        broken = await http.get("/readyz")
        assert broken.status_code == 503
        assert broken.json()["failing"] == ["asset store: the S3 store does not answer (StoreError)"]
        for secret in (bucket, down, ACCESS_KEY, SECRET_KEY, str(data_dir)):
            assert secret not in broken.text
