"""Fixtures for the backend tests: dialect fakes served on 127.0.0.1 and Backends built from Settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sora_mcp.backends import Backend
from sora_mcp.config import Settings

from .fakes import FakeServer, FakeVideos

SECRET_KEY = "sk-test-SECRET-9f8e7d"


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


def make_backend(base_url: str, **settings: Any) -> Backend:
    """A Backend the way the service builds one: from Settings (no environment involved)."""
    settings.setdefault("api_key", SECRET_KEY)
    settings.setdefault("dialect", "auto")
    settings.setdefault("request_timeout_s", 10.0)
    return Backend.from_settings(Settings(base_url=base_url, **settings))
