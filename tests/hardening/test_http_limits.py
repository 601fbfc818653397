"""The HTTP transports' limits, on `sora-mcp serve` subprocesses over loopback (issue 18, items 7 and 8).

Half-open and slow-header connections are closed at the deadline; idle connections past the cap
do not stop a real journey; an `initialize` flood leaves clients of both protocol eras working
with bounded memory and a small stderr; held event streams are capped; a public bind answers to
loopback names and the machine's name; a short or empty token refuses to start.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from sora_mcp.config import Settings
from tests.hardening.runs.flood import (
    IdleHorde,
    closed_within,
    initialize_flood,
    journey,
    open_stream,
    quick_call,
    rss_mb,
)
from tests.hardening.runs.http_run import raw_post
from tests.hardening.runs.serve_proc import ServeProcess, free_port, serve_env

pytestmark = pytest.mark.anyio
TOKEN = "flood-test-token-0123456789abcdef-XYZ"  # 37 characters


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The embedded engine (no backend, no key): what a default install runs."""
    (tmp_path / "inputs").mkdir()
    return Settings(data_dir=tmp_path / "data")


def test_half_open_and_slow_header_connections_are_closed(settings: Settings) -> None:
    proc = ServeProcess(settings, "http", env={"SORA_MCP_HTTP_HEADER_TIMEOUT_S": "2"})
    try:
        silent = socket.create_connection(("127.0.0.1", proc.port))
        dripping = socket.create_connection(("127.0.0.1", proc.port))
        part_body = socket.create_connection(("127.0.0.1", proc.port))
        part_body.sendall(
            f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{proc.port}\r\n"
            "Content-Type: application/json\r\nContent-Length: 400\r\n\r\n"
            '{"jsonrpc":'.encode()
        )
        t0 = time.monotonic()
        request = f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{proc.port}\r\nX-Slow: ".encode()
        dripped = None
        for i in range(40):  # one byte every 0.25 s: never a complete header block
            try:
                dripping.sendall(request[i : i + 1] or b"x")
            except OSError:
                dripped = time.monotonic() - t0
                break
            if closed_within(dripping, 0.25) is not None:
                dripped = time.monotonic() - t0
                break
        assert dripped is not None and dripped < 2 + 2, f"a dripping client was kept {dripped} s"
        assert (closed_within(silent, 6)) is not None, "a silent connection was kept open"
        assert (closed_within(part_body, 6)) is not None, "a half-sent body was kept open"
        # A well-behaved request on a fresh connection is unaffected.
        assert raw_post(proc.url, {})[0] == 200
    finally:
        stderr = proc.close()
    assert "Traceback" not in stderr


async def test_idle_connections_past_the_cap_do_not_stop_a_journey(settings: Settings) -> None:
    # The server may hold 1024 files (a common default); the horde keeps 1,100 connections open.
    proc = ServeProcess(settings, "http", nofile=1024, env={"SORA_MCP_HTTP_MAX_CONNECTIONS": "128"})
    try:
        with IdleHorde(proc.port, 1100) as horde:
            assert horde.opened >= 1000
            path = await journey(proc.url, None, "legacy", settings.data_dir, limit_s=180)
            assert Path(path).stat().st_size > 0
            await quick_call(proc.url, None, "auto")
        print(f"idle horde: {horde.opened} connections opened, {horde.closed_by_server} closed by the server")
        assert horde.closed_by_server >= 1100 - 128
    finally:
        stderr = proc.close()
    assert "Traceback" not in stderr and "Too many open files" not in stderr
    assert len(stderr.encode()) < 32_000, f"stderr grew to {len(stderr.encode())} bytes"


async def test_initialize_flood_leaves_both_protocol_eras_working(settings: Settings) -> None:
    # A small session table (100) so the flood outgrows the SDK's own cap (100 + 256 pending + 64) many times.
    proc = ServeProcess(settings, "http", nofile=1024, env={"SORA_MCP_HTTP_MAX_SESSIONS": "100"})
    pid = proc.proc.pid
    try:
        await quick_call(proc.url, None, "legacy")
        start_mb = rss_mb(pid)[0]
        from tests.hardening.runs.flood import FloodReport

        report = FloodReport()
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: initialize_flood(proc.url, 10_000, limit_s=60, report=report))
            with anyio.fail_after(60):
                while report.sent < 800:
                    await anyio.sleep(0.1)
            for mode in ("auto", "legacy"):  # during the flood
                await quick_call(proc.url, None, mode, limit_s=60)
        for mode in ("auto", "legacy"):  # after it
            await quick_call(proc.url, None, mode)
        flood_peak_mb = rss_mb(pid)[1]
        path = await journey(proc.url, None, "legacy", settings.data_dir, limit_s=180)
        assert Path(path).is_file()
        now_mb, peak_mb = rss_mb(pid)
    finally:
        stderr = proc.close()
    print(
        f"{report.line()}; RSS {start_mb:.0f} MB before, peak {flood_peak_mb:.0f} MB through the flood, "
        f"{peak_mb:.0f} MB after a journey (the engine rendering), {now_mb:.0f} MB at the end; "
        f"stderr {len(stderr.encode())} bytes"
    )
    # 1,000 POSTs fill the SDK's own session table (100 + 256 pending + 64 here) more than twice over.
    assert report.sent >= 1000, f"the flood only reached {report.sent} POSTs: too slow to prove anything"
    assert report.errors == 0 and set(report.statuses) == {200}, report.line()
    assert flood_peak_mb - start_mb < 100, f"RSS grew {flood_peak_mb - start_mb:.0f} MB under the flood"
    assert "Traceback" not in stderr
    assert len(stderr.encode()) < 32_000, f"stderr grew to {len(stderr.encode())} bytes"


async def test_held_sse_streams_are_capped(settings: Settings) -> None:
    from mcp import Client
    from mcp.client.sse import sse_client

    proc = ServeProcess(settings, "sse", env={"SORA_MCP_HTTP_MAX_STREAMS": "8"})
    held: list[socket.socket] = []
    try:
        for _ in range(8):
            status, _, sock = open_stream(proc.port)
            held.append(sock)
            assert status == 200
        status, answer, extra = open_stream(proc.port)
        body = answer.decode(errors="replace")
        extra.close()
        assert status == 503 and "SORA_MCP_HTTP_MAX_STREAMS" in body, (status, body)
        held.pop().close()
        with anyio.fail_after(30):  # the freed slot is taken by a real client
            while True:
                try:
                    async with Client(sse_client(f"http://127.0.0.1:{proc.port}/sse"), mode="legacy") as c:
                        assert not (await c.call_tool("list_videos", {"limit": 1})).is_error
                    break
                except Exception:  # noqa: BLE001 - the server may not have seen the close yet
                    await anyio.sleep(0.2)
    finally:
        for s in held:
            s.close()
        stderr = proc.close()
    assert "Traceback" not in stderr


async def test_public_bind_answers_to_loopback_and_machine_names(settings: Settings) -> None:
    proc = ServeProcess(
        settings,
        "http",
        host="0.0.0.0",
        env={"SORA_MCP_AUTH_TOKEN": TOKEN},
        args=("--allowed-host", "videos.example.test"),
    )
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        for name in ("127.0.0.1", "localhost", socket.gethostname(), "videos.example.test"):
            status, body = raw_post(proc.url, auth | {"Host": f"{name}:{proc.port}"})
            assert status == 200, (name, status, body)
        assert raw_post(proc.url, auth | {"Host": "localhost"})[0] == 200
        assert raw_post(proc.url, auth | {"Host": f"evil.example:{proc.port}"})[0] == 421
        assert raw_post(proc.url, auth | {"Origin": "http://evil.example"})[0] == 403
        assert raw_post(proc.url, {"Host": f"localhost:{proc.port}"})[0] == 401
        for mode in ("auto", "legacy"):
            await quick_call(proc.url, TOKEN, mode)
    finally:
        stderr = proc.close()
    assert TOKEN not in stderr


@pytest.mark.parametrize("token", ["", "x", "a" * 31])
def test_short_or_empty_token_refuses_to_start(settings: Settings, token: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sora_mcp", "serve", "--transport", "http", "--port", str(free_port())],
        env=serve_env(settings, SORA_MCP_AUTH_TOKEN=token),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "at least 32" in done.stderr
    assert 'python -c "import secrets; print(secrets.token_urlsafe(32))"' in done.stderr
    assert "Traceback" not in done.stderr and (token not in done.stderr or len(token) < 2)
    assert not (settings.data_dir / "ledger.sqlite3").exists(), "it started the service before refusing"


async def test_running_out_of_files_writes_a_few_log_lines(settings: Settings) -> None:
    # Misconfigured on purpose: a connection cap above the open-file limit, so accept() hits EMFILE
    # over and over (issue 18: 90 MB of "Too many open files" tracebacks in 45 s).
    proc = ServeProcess(
        settings,
        "http",
        nofile=200,
        env={"SORA_MCP_HTTP_MAX_CONNECTIONS": "1000", "SORA_MCP_HTTP_HEADER_TIMEOUT_S": "2"},
    )
    try:
        with IdleHorde(proc.port, 600) as horde:
            with anyio.fail_after(60):  # the server runs out, its connections expire, the horde reopens
                while "Too many open files" not in proc.stderr() or horde.closed_by_server < 1000:
                    await anyio.sleep(0.2)
        await quick_call(proc.url, None, "auto", limit_s=60)  # it recovers once the horde is gone
    finally:
        stderr = proc.close()
    size = len(stderr.encode())
    print(
        f"EMFILE storm: {horde.opened} connections, stderr {size} bytes, "
        f"{stderr.count('Traceback')} tracebacks"
    )
    assert size < 32_000, f"stderr grew to {size} bytes"
    assert stderr.count("Traceback") <= 20
