"""Shared fixtures: the embedded engine served by uvicorn on 127.0.0.1 with an ephemeral port.

`engine` is a running `EngineServer` with its data dir under `tmp_path`; `engine_factory`
makes more (custom `EngineConfig` kwargs: api_key, fault knobs, ...), all stopped at teardown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sora_mcp.engine import EngineConfig, EngineServer

EngineFactory = Callable[..., EngineServer]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty sora-mcp data directory (a test package may override it)."""
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def engine_factory(tmp_path: Path) -> Iterator[EngineFactory]:
    """`engine_factory(**config_kwargs)` → a started EngineServer; data_dir defaults to tmp_path/'engine'."""
    servers: list[EngineServer] = []

    def make(**kwargs: Any) -> EngineServer:
        kwargs.setdefault("data_dir", tmp_path / "engine")
        server = EngineServer(EngineConfig(**kwargs)).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def engine(engine_factory: EngineFactory) -> EngineServer:
    return engine_factory()
