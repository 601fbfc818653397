"""Shared fixtures: the embedded engine served by uvicorn on 127.0.0.1 with an ephemeral port,
and a throwaway PostgreSQL cluster.

`engine` is a running `EngineServer` with its data dir under `tmp_path`; `engine_factory`
makes more (custom `EngineConfig` kwargs: api_key, fault knobs, ...), all stopped at teardown.
`postgres_cluster` (one per session, started on first use; see tests/pg.py) and
`database_url` (a fresh empty database per test) serve the PostgreSQL ledger tests; without
PostgreSQL they skip, except under CI=true where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sora_mcp.engine import EngineConfig, EngineServer
from tests.pg import MISSING, PostgresCluster, find_bin_dir

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


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        if os.environ.get("CI") == "true":
            pytest.fail(MISSING + " (CI must run them: .ci/run installs it)")
        pytest.skip(MISSING)
    cluster = PostgresCluster(bin_dir)
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    yield cluster
    cluster.stop()


@pytest.fixture
def database_url(postgres_cluster: PostgresCluster) -> str:
    """`postgresql://...` of a new, empty database on the session's cluster."""
    return postgres_cluster.new_database()
