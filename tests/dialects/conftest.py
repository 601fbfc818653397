"""Fixtures for the dialect journeys: a dialect fake served on 127.0.0.1 with a real MP4, and an
MCP client (the official `mcp.Client`, in-process) on a VideoService pointed at it.

The fakes are the ones in `tests/dialects/fake_dialects.py`; here they serve a small decodable
MP4 so the service can derive thumbnails and spritesheets from it, as it would from a real clip.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from sora_mcp.config import Settings
from sora_mcp.server import build_server
from sora_mcp.service import VideoService
from tests.backends.fakes import FakeServer, FakeVideos, real_mp4
from tests.dialects.fake_dialects import FakeGateway, FakeLiteLLM, FakeSglang, FakeVllmOmni
from tests.dialects.fake_hosted import FakeOpenRouter, SignedStore
from tests.results import structured  # noqa: F401 - shared with the tests here
from tests.results import text as text_of

SECRET_KEY = "sk-dialect-SECRET-5a4b3c"
FAKES: dict[str, type[FakeVideos]] = {
    "vllm-omni": FakeVllmOmni,
    "sglang": FakeSglang,
    "litellm": FakeLiteLLM,
    "gateway": FakeGateway,
}


@pytest.fixture(scope="session")
def mp4() -> bytes:
    return real_mp4()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def openrouter(mp4: bytes) -> Iterator[FakeServer]:
    """A fake of OpenRouter's video API (tests/dialects/fake_hosted.py) that accepts SECRET_KEY."""
    fake = FakeOpenRouter(api_key=SECRET_KEY)
    fake.use_mp4(mp4)
    with FakeServer(fake) as server:
        yield server


@pytest.fixture
def store(mp4: bytes) -> Iterator[FakeServer]:
    """A signed-URL storage host serving the MP4 (it must never see a key)."""
    fake = SignedStore()
    fake.use_mp4(mp4)
    with FakeServer(fake) as server:
        yield server


@pytest.fixture
def serve_fake(mp4: bytes) -> Iterator[Callable[[str], FakeServer]]:
    """`serve_fake("sglang")` → a started FakeServer for that dialect, requiring SECRET_KEY."""
    servers: list[FakeServer] = []

    def start(kind: str) -> FakeServer:
        fake = FAKES[kind](api_key=SECRET_KEY)
        fake.use_mp4(mp4)
        server = FakeServer(fake).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def settings_for(base_url: str, data_dir: Path, **overrides: Any) -> Settings:
    """Settings as a user would set them, without reading this process's environment for the rest."""
    values: dict[str, Any] = {
        "base_url": base_url,
        "api_key": SECRET_KEY,
        "data_dir": data_dir,
        "watch": False,
    }
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def mcp_client(settings: Settings) -> AsyncIterator[Client]:
    """An in-process MCP client on a fresh service; checks no temp file is left behind."""
    async with VideoService(settings) as service, Client(build_server(service)) as client:
        yield client
    tmp = settings.tmp_dir
    leftovers = [p.name for p in tmp.iterdir()] if tmp.exists() else []
    assert leftovers == [], f"temp files left behind: {leftovers}"


def refusal(result: Any) -> str:
    """The text of a tool error, checked free of tracebacks and the key."""
    assert result.is_error, f"expected a refusal, got {text_of(result)[:300]}"
    text = text_of(result)
    assert "Traceback" not in text and SECRET_KEY not in text
    return text
