"""The embedded engine of a default install (no backend set) belongs to the server that started it.

`sora-mcp serve` runs as a subprocess with no SORA_MCP_BASE_URL; its embedded engine is found
from the process's listening sockets and attacked from outside: keyless, wrong-key, foreign
Host/Origin, text/plain fault injection, encoded-dot deletes. Every attempt is refused, and the
user's own jobs still complete. In process, the generated key shows in no answer, log or file.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import anyio
import pytest

from sora_mcp.config import Settings
from sora_mcp.server import build_server
from sora_mcp.service import VideoService
from tests.engine.engine_helpers import exact
from tests.hardening.runs.embedded_engine import attacks, listening_ports
from tests.hardening.runs.http_run import client
from tests.hardening.runs.secrets_run import exercise, files_containing
from tests.hardening.runs.serve_proc import ServeProcess

pytestmark = pytest.mark.anyio
REFUSED = {401, 403, 404, 413, 415, 421}


def _engine_port(proc: ServeProcess) -> int:
    deadline = time.monotonic() + 30
    while True:
        others = listening_ports(proc.proc.pid) - {proc.port}
        if len(others) == 1:
            return others.pop()
        assert time.monotonic() < deadline, f"no embedded engine socket found: {others}"
        time.sleep(0.05)


async def test_embedded_engine_refuses_outsiders(tmp_path: Path) -> None:
    (tmp_path / "inputs").mkdir()
    settings = Settings(base_url=None, data_dir=tmp_path / "data")
    proc = ServeProcess(settings, "http")  # SORA_MCP_BASE_URL="" : the embedded engine
    try:
        async with client(proc.url) as mcp:
            created = await mcp.call_tool(
                "create_video", {"prompt": "A paper boat in the rain", "seconds": "4"}
            )
            assert not created.is_error, created
            vid = created.structured_content["id"]
            port = await anyio.to_thread.run_sync(_engine_port, proc)
            assert port != proc.port
            engine_dir = tmp_path / "data" / "engine"
            db_before = (engine_dir / "engine.sqlite3").exists()
            for name, method, path, headers, body in attacks(port, vid):
                answer = await anyio.to_thread.run_sync(
                    lambda method=method, path=path, headers=headers, body=body: exact(
                        port, method, path, headers=headers, body=body
                    )
                )
                assert answer.status in REFUSED, (name, answer.status, answer.body[:200])
                assert b"Traceback" not in answer.body
                assert not [h for h in answer.headers if h.startswith("access-control-")], name
            # The probes named below would have worked before: check the right refusal for each.
            assert exact(port, "GET", "/v1/videos").status == 401
            assert exact(port, "GET", "/v1/videos", headers={"Host": "evil.example"}).status == 421
            assert (
                exact(
                    port,
                    "POST",
                    "/_engine/faults",
                    body=b'{"fail_rate": 1}',
                    headers={"Content-Type": "text/plain", "Origin": "http://evil.example"},
                ).status
                == 403
            )
            # Nothing changed: the job completes (no fail_rate was set), a new one too, both listed.
            done = await mcp.call_tool("get_status", {"video_id": vid, "wait_seconds": 45})
            assert done.structured_content["jobs"][0]["status"] == "completed", done
            again = await mcp.call_tool("create_video", {"prompt": "A red kite", "seconds": "4"})
            second = await mcp.call_tool(
                "get_status", {"video_id": again.structured_content["id"], "wait_seconds": 45}
            )
            assert second.structured_content["jobs"][0]["status"] == "completed", second
            listed = await mcp.call_tool("list_videos", {"limit": 10})
            ids = {v["id"] for v in listed.structured_content["data"]}
            assert {vid, again.structured_content["id"]} <= ids, listed
            assert db_before and (engine_dir / "engine.sqlite3").exists()
            assert (engine_dir / "videos" / vid / "out" / "video.mp4").stat().st_size > 1000
    finally:
        stderr = proc.close()
    assert "Traceback" not in stderr


async def test_generated_key_never_reaches_an_answer_log_or_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    (tmp_path / "inputs").mkdir()
    settings = Settings(
        base_url=None, api_key=None, data_dir=tmp_path / "data", allowed_roots=[tmp_path / "inputs"]
    )
    async with VideoService(settings) as service:
        from mcp import Client

        async with Client(build_server(service)) as mcp:
            seen = await exercise(mcp)
            # Read-only look at the engine this service started: the test needs the key to search for it.
            key = service.engine.config.api_key
            port = service.engine.port
            assert key and len(key) >= 32
            # The key is the only way in, and it works.
            assert exact(port, "GET", "/v1/videos").status == 401
            assert exact(port, "GET", "/v1/videos", key=key).status == 200
            assert exact(port, "GET", "/_engine/stats", key=key).status == 404, "no admin routes embedded"
    assert len(seen) > 20 and any('"completed"' in t or "completed" in t for t in seen)
    assert all(key not in text for text in seen)
    assert caplog.records and key not in caplog.text
    assert files_containing(tmp_path, key.encode()) == []
    assert json.dumps(settings.model_dump(mode="json")).find(key) < 0
