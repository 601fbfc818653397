"""Restart safety: a server killed with SIGKILL mid-job, a died-mid-download job, a create never recorded,
and a data dir whose ledger was written by an older version."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import warnings
from pathlib import Path

import av
import pytest
from mcp import Client

from sora_mcp.engine import EngineServer
from sora_mcp.library import Ledger
from sora_mcp.library.migrations import _V1, LATEST
from tests.service.library.conftest import (
    API_KEY,
    archived,
    engine_bytes,
    engine_create,
    engine_wait,
    eventually,
    file_sha256,
    make_settings,
    open_client,
    sdk,
    sha256,
    structured,
)

pytestmark = pytest.mark.anyio


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(engine: EngineServer, data_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    """`sora-mcp serve` over Streamable HTTP in a subprocess (its own pid, so it can be SIGKILLed)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SORA_MCP_", "OPENAI_", "SORA_ENGINE_"))}
    env |= {
        "SORA_MCP_BASE_URL": engine.base_url,
        "SORA_MCP_API_KEY": API_KEY,
        "SORA_MCP_DATA_DIR": str(data_dir),
        "SORA_MCP_ARCHIVE_VARIANTS": '["video"]',
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sora_mcp",
            "serve",
            "--transport",
            "http",
            "--port",
            str(port),
            "--log-level",
            "INFO",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("the server did not start: " + log.read_text())


def _engine_status(engine: EngineServer, video_id: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return sdk(engine).videos.retrieve(video_id).status


async def test_server_killed_mid_job_archives_it_after_restart(
    engine_factory, data_dir: Path, tmp_path: Path
) -> None:
    engine = engine_factory(api_key=API_KEY, poll_after_ms=100, render_slowdown=2.5)  # ~6 s per 4 s clip
    log = tmp_path / "server.log"
    first, port = _serve(engine, data_dir, log)
    try:
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            vid = structured(await client.call_tool("create_video", {"prompt": "A long slow sunrise"}))["id"]
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    assert first.returncode == -signal.SIGKILL
    assert _engine_status(engine, vid) in ("queued", "in_progress"), "the job must outlive the killed server"
    assert archived(data_dir, vid) is None

    second, _ = _serve(engine, data_dir, log)  # no client connects: the watcher alone must archive it
    try:
        asset = await eventually(
            lambda: archived(data_dir, vid), timeout_s=90, what="the restarted server to archive"
        )
    finally:
        second.terminate()
        second.wait(timeout=10)
    path = data_dir / asset.path
    assert file_sha256(path) == asset.sha256 == sha256(engine_bytes(engine, vid))
    with av.open(str(path)) as container:
        assert container.streams.video[0].frames or container.duration
    ledger = Ledger(data_dir / "ledger.sqlite3")
    try:
        record = ledger.get(vid)
        assert record.kind == "create" and record.status == "completed"
        assert [h.status for h in record.history][-1] == "completed"
    finally:
        ledger.close()
    assert "Traceback" not in log.read_text()


async def test_a_completed_job_never_archived_is_archived_at_start_up(
    fast_engine: EngineServer, data_dir: Path
) -> None:
    async with open_client(make_settings(fast_engine, data_dir)) as (client, service):
        vid = structured(await client.call_tool("create_video", {"prompt": "A moth at a lamp"}))["id"]
        engine_wait(fast_engine, vid)
        job = structured(await client.call_tool("get_status", {"video_id": vid, "wait_seconds": 0}))["jobs"][
            0
        ]
        # As if the process died between seeing "completed" and finishing the download:
        for stored in service.ledger.remove_assets(vid):
            (data_dir / stored.path).unlink()
        assert job["status"] == "completed" and archived(data_dir, vid) is None
    async with open_client(make_settings(fast_engine, data_dir, watch=True, archive_variants=["video"])):
        asset = await eventually(lambda: archived(data_dir, vid), what="the start-up pass to archive")
    assert file_sha256(data_dir / asset.path) == sha256(engine_bytes(fast_engine, vid))


async def test_a_create_sent_but_never_recorded_is_found_at_start_up(
    fast_engine: EngineServer, data_dir: Path
) -> None:
    prompt = "Primary request: A kite over dunes"
    ledger = Ledger(data_dir / "ledger.sqlite3")
    # As if the server died after sending the POST and before recording its answer:
    ledger.record_pending("sora-mcp-lost-1", "fp", {"kind": "create", "prompt": prompt, "model": "sora-2"})
    ledger.close()
    vid = engine_create(fast_engine, prompt).id
    async with open_client(make_settings(fast_engine, data_dir, watch=True, archive_variants=["video"])) as (
        _,
        svc,
    ):
        await eventually(lambda: archived(data_dir, vid), what="the lost create to be found and archived")
        record = svc.ledger.get(vid)
        assert record.kind == "create" and record.idempotency_key == "sora-mcp-lost-1"
        assert svc.ledger.unresolved_pending(3600) == []


async def test_an_old_version_ledger_still_starts_and_lists(
    fast_engine: EngineServer, data_dir: Path
) -> None:
    old_file = data_dir / "library" / "old1" / "video.mp4"
    old_file.parent.mkdir(parents=True)
    old_file.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"an old archived clip" * 100)
    digest = hashlib.sha256(old_file.read_bytes()).hexdigest()
    conn = sqlite3.connect(data_dir / "ledger.sqlite3")
    for statement in _V1:
        conn.execute(statement)
    conn.execute(
        "INSERT INTO jobs(id, backend, model, size, seconds, prompt_given, prompt_sent, kind, status, progress, "
        "created_at, completed_at, cost_usd, updated_at) VALUES ('old1', 'openai', 'sora-2', '1280x720', '4', "
        "'the sunset clip from last year', 'the sunset clip from last year', 'create', 'completed', 100, "
        "1650000000, 1650000100, 0.4, 1650000100)"
    )
    conn.execute("INSERT INTO status_history VALUES ('old1', 'completed', 100, 1650000100)")
    conn.execute(
        "INSERT INTO assets VALUES ('old1', 'video', 'library/old1/video.mp4', ?, ?, 0, 1650000101)",
        (old_file.stat().st_size, digest),
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()

    async with open_client(make_settings(fast_engine, data_dir)) as (client, _):
        page = structured(await client.call_tool("list_videos", {"text": "sunset"}))
        assert [j["id"] for j in page["data"]] == ["old1"] and page["data"][0]["where"] == "local"
        asset = structured(await client.call_tool("download_asset", {"video_id": "old1"}))
        assert asset["sha256"] == digest and Path(asset["path"]) == old_file
        summary = json.loads((await client.read_resource("sora://library")).contents[0].text)
        assert summary["jobs"] == 1 and summary["bytes_on_disk"] == old_file.stat().st_size
    version = sqlite3.connect(data_dir / "ledger.sqlite3").execute("PRAGMA user_version").fetchone()[0]
    assert version == LATEST
