"""Backends built as the service builds them, over a real socket or an injected httpx transport.

`mock_backend(handler)` puts an `httpx2.MockTransport` handler function under the backend's
bounded client (another vendor's server, written from its published shape); `asgi_backend(fake)`
serves one of the Starlette fakes in-process through `httpx2.ASGITransport` (no uvicorn, no port).
Both keep the backend's limits: the injected transport is wrapped like the network one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx2

from sora_mcp.backends import Backend
from sora_mcp.config import Settings
from tests.backends.fakes import FakeVideos

SECRET_KEY = "sk-test-SECRET-9f8e7d"
BASE_URL = "https://videos.example/v1"
Handler = Callable[[httpx2.Request], httpx2.Response | Awaitable[httpx2.Response]]


def make_backend(
    base_url: str, *, http_transport: httpx2.AsyncBaseTransport | None = None, **settings: Any
) -> Backend:
    """A Backend the way the service builds one: from Settings (no environment involved)."""
    settings.setdefault("api_key", SECRET_KEY)
    settings.setdefault("dialect", "auto")
    settings.setdefault("request_timeout_s", 10.0)
    return Backend.from_settings(Settings(base_url=base_url, **settings), http_transport=http_transport)


def mock_backend(handler: Handler, base_url: str = BASE_URL, **settings: Any) -> Backend:
    """A Backend whose every request is answered by `handler` (a MockTransport handler function)."""
    return make_backend(base_url, http_transport=httpx2.MockTransport(handler), **settings)


def asgi_backend(fake: FakeVideos, origin: str = "http://fake.test", **settings: Any) -> Backend:
    """A Backend talking to `fake`'s Starlette app in-process (ASGITransport buffers bodies:
    streaming tests keep a real socket)."""
    fake.origin = origin
    return make_backend(f"{origin}/v1", http_transport=httpx2.ASGITransport(app=fake.app()), **settings)
