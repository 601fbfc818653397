"""The test host's web server: serves host/host.html and proxies MCP calls to a real sora-mcp.

Runs uvicorn on 127.0.0.1 in a background thread with its own event loop. Its lifespan holds
one official MCP client (Streamable HTTP, bearer token, MCP Apps advertised) to the
`sora-mcp serve --transport http` under test; `POST /mcp-proxy {method, params}` forwards
tools/list, tools/call and resources/read through it and answers `{result}` or `{error}`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Self

import httpx2
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from tests.apps.conftest import APPS

HOST_PAGE = Path(__file__).with_name("host") / "host.html"


def mcp_client(url: str, token: str | None, *, apps: bool = True) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=300))
    return Client(streamable_http_client(url, http_client=http), extensions=APPS if apps else None)


def _dump(result: Any) -> dict[str, Any]:
    return result.model_dump(mode="json", by_alias=True, exclude_none=True)


def build_app(mcp_url: str, token: str) -> Starlette:
    state: dict[str, Client] = {}

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with mcp_client(mcp_url, token) as client:
            state["client"] = client
            yield

    async def page(_: Request) -> Response:
        return FileResponse(HOST_PAGE, media_type="text/html")

    async def proxy(request: Request) -> Response:
        body = await request.json()
        method, params = body.get("method"), body.get("params") or {}
        client = state["client"]
        try:
            if method == "tools/list":
                result = await client.list_tools()
            elif method == "tools/call":
                result = await client.call_tool(params["name"], params.get("arguments") or {})
            elif method == "resources/read":
                result = await client.read_resource(params["uri"])
            else:
                return JSONResponse({"error": {"code": -32601, "message": f"{method} is not proxied"}})
        except MCPError as exc:
            return JSONResponse({"error": {"code": exc.error.code, "message": exc.error.message}})
        return JSONResponse({"result": _dump(result)})

    return Starlette(
        routes=[Route("/", page), Route("/mcp-proxy", proxy, methods=["POST"])], lifespan=lifespan
    )


class HostServer:
    """`with HostServer(mcp_url, token, port) as host:` → `host.url`."""

    def __init__(self, mcp_url: str, token: str, port: int) -> None:
        config = uvicorn.Config(
            build_app(mcp_url, token), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.url = f"http://127.0.0.1:{port}/"
        self.thread = threading.Thread(target=self.server.run, name="test-host", daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise AssertionError("the test host did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
