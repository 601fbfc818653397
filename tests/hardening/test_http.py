"""`sora-mcp serve --transport http`: bind refusal, bearer auth, DNS-rebinding protection, concurrency."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sora_mcp.config import Settings
from tests.hardening.runs.common import SECRET_KEY
from tests.hardening.runs.http_run import load, raw_post, summary
from tests.hardening.runs.serve_proc import ServeProcess, free_port, serve_env

pytestmark = pytest.mark.anyio
TOKEN = "hardening-bearer-token-0123456789abcdef"


@pytest.fixture
def settings(tmp_path: Path, engine_factory) -> Settings:
    engine = engine_factory(api_key=SECRET_KEY, poll_after_ms=100)
    return Settings(
        base_url=engine.base_url,
        api_key=SECRET_KEY,
        data_dir=tmp_path / "data",
        allowed_roots=[tmp_path / "inputs"],
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10"])
def test_non_loopback_bind_without_token_is_refused(settings: Settings, host: str) -> None:
    port = free_port()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sora_mcp",
            "serve",
            "--transport",
            "http",
            "--host",
            host,
            "--port",
            str(port),
        ],
        env=serve_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "SORA_MCP_AUTH_TOKEN" in done.stderr and host in done.stderr
    assert "Traceback" not in done.stderr
    assert not (settings.data_dir / "ledger.sqlite3").exists(), "it started the service before refusing"


async def test_bearer_token_required_and_checked(settings: Settings) -> None:
    from tests.hardening.runs.http_run import client

    proc = ServeProcess(settings, "http", env={"SORA_MCP_AUTH_TOKEN": TOKEN})
    try:
        assert raw_post(proc.url, {})[0] == 401
        assert raw_post(proc.url, {"Authorization": "Bearer wrong"})[0] == 401
        assert raw_post(proc.url, {"Authorization": f"Bearer {TOKEN}x"})[0] == 401
        assert raw_post(proc.url, {"Authorization": TOKEN})[0] == 401
        status, body = raw_post(proc.url, {"Authorization": f"Bearer {TOKEN}"})
        assert status == 200, body
        async with client(proc.url, TOKEN) as c:
            listed = await c.call_tool("list_videos", {"limit": 1})
            assert not listed.is_error
    finally:
        stderr = proc.close()
    assert TOKEN not in stderr


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "evil.example"},
        {"Host": "evil.example:80"},
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
    ],
)
def test_foreign_host_or_origin_rejected(settings: Settings, headers: dict[str, str]) -> None:
    proc = ServeProcess(settings, "http")
    try:
        status, _ = raw_post(proc.url, headers)
        assert status in (403, 421), status
        assert raw_post(proc.url, {})[0] == 200  # the same request from a local page works
    finally:
        proc.close()


async def test_concurrent_clients_complete(settings: Settings) -> None:
    proc = ServeProcess(settings, "http")
    try:
        report = await load(proc.url, None, 8, settings.data_dir, limit_s=240)
    finally:
        proc.close()
    print(summary(report))
    assert report.errors == [], "\n".join(report.errors)
    assert report.completed == 8
