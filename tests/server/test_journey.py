"""The full journey through the official MCP Client: in-process (both protocol modes), stdio, HTTP, SSE."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from tests.server.conftest import server_env
from tests.server.journey import journey

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_journey_in_process(server, data_dir: Path, keyed_engine, mode: str, tmp_path: Path) -> None:
    async with Client(server, mode=mode) as client:
        await journey(client, data_dir=data_dir, dest_dir=tmp_path / "inputs" / "out")
    assert keyed_engine.stats.count("POST", "/v1/videos") == 1


async def test_journey_over_stdio(settings, data_dir: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "sora_mcp", "serve"], env=server_env(settings)
    )
    async with Client(params, mode="legacy") as client:
        await journey(client, data_dir=data_dir)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _ServeProcess:
    def __init__(
        self, settings, transport: str, extra_env: dict[str, str] | None = None, host: str = "127.0.0.1"
    ) -> None:
        self.port = _free_port()
        env = server_env(settings) | (extra_env or {})
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sora_mcp",
                "serve",
                "--transport",
                transport,
                "--host",
                host,
                "--port",
                str(self.port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(self.proc.stderr.read().decode())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("server did not start")

    def close(self) -> str:
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err.decode()


async def test_journey_over_streamable_http(settings, data_dir: Path) -> None:
    server = _ServeProcess(settings, "http")
    try:
        async with Client(f"http://127.0.0.1:{server.port}/mcp") as client:
            await journey(client, data_dir=data_dir)
    finally:
        server.close()


async def test_journey_over_sse(settings, data_dir: Path) -> None:
    from mcp.client.sse import sse_client

    server = _ServeProcess(settings, "sse")
    try:
        async with Client(sse_client(f"http://127.0.0.1:{server.port}/sse"), mode="legacy") as client:
            await journey(client, data_dir=data_dir)
    finally:
        server.close()
