"""Fixtures for the library's service-level tests: the engine over real HTTP, a data dir, an MCP client.

Every test here must leave `<data_dir>/tmp` empty (checked after the service has closed);
`open_client` runs a VideoService + MCP server in-process and connects the official client.
"""

from __future__ import annotations

import hashlib
import time
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import openai
import pytest
from mcp import Client

from sora_mcp.config import Settings
from sora_mcp.engine import EngineServer
from sora_mcp.library import Ledger
from sora_mcp.server import build_server
from sora_mcp.service import VideoService
from tests.conditions import eventually  # noqa: F401 - shared with the tests here
from tests.results import structured  # noqa: F401 - shared with the tests here
from tests.results import text as error_text  # noqa: F401 - re-exported for the tests here

API_KEY = "sk-library-test-0a1b2c"


@pytest.fixture(autouse=True)
def _temp_folder_ends_empty(data_dir: Path) -> Iterator[None]:
    """Runs its check after every other fixture (services, servers) has been torn down."""
    yield
    tmp = data_dir / "tmp"
    leftovers = sorted(p.name for p in tmp.iterdir()) if tmp.is_dir() else []
    assert leftovers == [], f"temp files left behind in {tmp}: {leftovers}"


@pytest.fixture
def fast_engine(engine_factory: Callable[..., EngineServer]) -> EngineServer:
    """The engine, keyed, asking clients to poll every 100 ms so waits are short."""
    return engine_factory(api_key=API_KEY, poll_after_ms=100)


def make_settings(engine: EngineServer, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "base_url": engine.base_url,
        "api_key": API_KEY,
        "data_dir": data_dir,
        "allowed_roots": [data_dir.parent / "inputs"],
        "watch": False,
    }
    return Settings(**(values | overrides))


@asynccontextmanager
async def open_client(settings: Settings) -> AsyncIterator[tuple[Client, VideoService]]:
    async with VideoService(settings) as service, Client(build_server(service)) as client:
        yield client, service


def sdk(engine: EngineServer) -> openai.OpenAI:
    """The official openai SDK pointed at the engine: the test's own view of the backend."""
    return openai.OpenAI(base_url=engine.base_url, api_key=API_KEY, max_retries=0)


def engine_bytes(engine: EngineServer, video_id: str, variant: str = "video") -> bytes:
    """The engine's file for a job, read from its disk: no request that would show in `engine.stats`."""
    from sora_mcp.engine.worker import VARIANT_FILES, output_dir

    return (output_dir(engine.engine.store, video_id) / VARIANT_FILES[variant]).read_bytes()


def engine_download(engine: EngineServer, video_id: str, variant: str = "video") -> bytes:
    """The same content over HTTP with the official SDK (raises when the backend refuses it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return sdk(engine).videos.download_content(video_id, variant=variant).read()  # type: ignore[arg-type]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    return sha256(path.read_bytes())


def engine_wait(engine: EngineServer, video_id: str, timeout_s: float = 30) -> Any:
    """Poll the engine directly (not through sora-mcp) until the job ends."""
    client = sdk(engine)
    deadline = time.monotonic() + timeout_s
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        while True:
            video = client.videos.retrieve(video_id)
            if video.status in ("completed", "failed") or time.monotonic() > deadline:
                return video
            time.sleep(0.05)


def engine_create(engine: EngineServer, prompt: str, **kwargs: Any) -> Any:
    """A job made directly on the backend, bypassing sora-mcp."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return sdk(engine).videos.create(
            prompt=prompt,
            model=kwargs.pop("model", "sora-2"),
            size=kwargs.pop("size", "1280x720"),
            seconds=kwargs.pop("seconds", "4"),
        )


def archived(data_dir: Path, video_id: str, variant: str = "video") -> Any:
    """The ledger's asset row for one variant, read with a separate connection (as another process would)."""
    ledger = Ledger(data_dir / "ledger.sqlite3")
    try:
        record = ledger.get(video_id)
        return record.asset(variant) if record is not None else None
    finally:
        ledger.close()
