"""Fixtures for the backend tests: dialect fakes served on 127.0.0.1 (for streaming and real
sockets); in-process backends are built with `tests/backends/mock.py`."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from .fakes import FakeServer, FakeVideos


@pytest.fixture
def serve() -> Iterator[Callable[[FakeVideos], FakeServer]]:
    """`serve(fake)` → a started FakeServer, stopped at teardown."""
    servers: list[FakeServer] = []

    def start(fake: FakeVideos) -> FakeServer:
        server = FakeServer(fake).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)
