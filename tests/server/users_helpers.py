"""Helpers for the users tests: a real `sora-mcp serve --transport http` subprocess and MCP clients
sending a user's bearer token (the official Client over Streamable HTTP, MCP Apps advertised so
the player's app-only tools are listed too)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Self

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.apps.conftest import APPS
from tests.server.conftest import server_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Serve:
    """`sora-mcp serve --transport http` on a free loopback port, with extra args and env."""

    def __init__(
        self,
        settings: Any,
        args: list[str],
        env: dict[str, str] | None = None,
        port: int | None = None,
        transport: str = "http",
    ) -> None:
        self.port = port or free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sora_mcp",
                "serve",
                "--transport",
                transport,
                "--port",
                str(self.port),
                *args,
            ],
            env=server_env(settings) | (env or {}),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(self.proc.stderr.read().decode() if self.proc.stderr else "exited")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.close()
        raise AssertionError("server did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def close(self) -> str:
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err.decode() if err else ""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@asynccontextmanager
async def connect(url: str, token: str) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"}
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=120))
    async with http, Client(streamable_http_client(url, http_client=http), extensions=APPS) as client:
        yield client


async def raw_post(url: str, token: str | None) -> httpx2.Response:
    """One MCP request without the SDK: what an unauthenticated caller sees."""
    headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    hello = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": hello}
    async with httpx2.AsyncClient(timeout=10) as http:
        return await http.post(url, json=body, headers=headers)
