"""State and lifecycle: restart survival, idempotency keys, expiry, concurrency, the standalone command."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import httpx2
import pytest

from sora_mcp.engine import EngineConfig, EngineServer
from tests.conditions import eventually
from tests.engine.engine_helpers import create_done, raw, sdk, wait_done

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
EngineFactory = Callable[..., EngineServer]


async def test_jobs_and_files_survive_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "engine"
    with EngineServer(EngineConfig(data_dir=data_dir)) as first:
        async with sdk(first) as client:
            done = await create_done(client)
    with EngineServer(EngineConfig(data_dir=data_dir)) as second:
        assert second.jobs_count() == 1
        async with sdk(second) as client:
            again = await client.videos.retrieve(done.id)
            assert again.model_dump() == done.model_dump()
            async with client.videos.with_streaming_response.download_content(done.id) as response:
                assert response.headers["content-type"] == "video/mp4" and len(await response.read()) > 1000


async def test_unfinished_job_resumes_after_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "engine"
    with EngineServer(EngineConfig(data_dir=data_dir, render_slowdown=30.0)) as first:
        async with sdk(first) as client:
            pending = await client.videos.create(prompt="interrupted")
    with EngineServer(EngineConfig(data_dir=data_dir)) as second:
        async with sdk(second) as client:
            assert (await wait_done(client, pending.id)).status == "completed"
    assert not list(data_dir.rglob("*.part")) and not list(data_dir.rglob("*.tmp*"))


async def test_idempotency_key_returns_the_same_job(engine: EngineServer) -> None:
    async with sdk(engine) as client:
        first = await client.videos.create(prompt="once", extra_headers={"Idempotency-Key": "abc-1"})
        second = await client.videos.create(prompt="once", extra_headers={"Idempotency-Key": "abc-1"})
        other = await client.videos.create(prompt="once", extra_headers={"Idempotency-Key": "abc-2"})
    assert first.id == second.id != other.id
    assert engine.jobs_count() == 2 and engine.stats.jobs_created == 2


async def test_expiry_after_ttl(engine_factory: EngineFactory) -> None:
    engine = engine_factory(asset_ttl_s=2)
    async with sdk(engine) as client:
        video = await create_done(client)
        assert video.expires_at == video.completed_at + 2  # type: ignore[operator]
        async with client.videos.with_streaming_response.download_content(video.id) as response:
            assert response.status_code == 200
        await anyio.sleep(max(0.0, video.expires_at - time.time()) + 0.1)  # type: ignore[operator]
        async with raw(engine) as http:
            gone = await http.get(f"/v1/videos/{video.id}/content")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "video_expired"


async def test_api_stays_responsive_while_rendering(engine_factory: EngineFactory) -> None:
    engine = engine_factory(render_workers=1, render_slowdown=3.0)
    async with sdk(engine) as client:
        ids = [(await client.videos.create(prompt=f"busy {i}")).id for i in range(3)]
        store = engine.engine.store
        await eventually(
            lambda: any((job := store.get(i)) is not None and job.status == "in_progress" for i in ids),
            what="the worker to take a job",
        )
        started = time.monotonic()
        statuses = [(await client.videos.retrieve(i)).status for i in ids]
        assert time.monotonic() - started < 1.0
        # One worker: one job renders, the others wait their turn.
        assert statuses.count("in_progress") == 1 and statuses.count("queued") == 2
        engine.set_faults(render_slowdown=0.0)
        for video_id in ids:
            await client.videos.delete(video_id)
    assert engine.jobs_count() == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_forever_standalone_process(tmp_path: Path) -> None:
    port = _free_port()
    code = (
        "from pathlib import Path; from sora_mcp.engine import EngineConfig, serve_forever; "
        f"serve_forever(EngineConfig(data_dir=Path({str(tmp_path / 'd')!r}), api_key='k'), '127.0.0.1', {port})"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx2.get(
                    f"http://127.0.0.1:{port}/v1/videos", headers={"Authorization": "Bearer k"}
                )
                break
            except httpx2.ConnectError:
                assert proc.poll() is None and time.monotonic() < deadline, "engine did not come up"
                time.sleep(0.1)
        assert response.status_code == 200 and response.json()["object"] == "list"
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, stderr.decode()
    assert stdout == b"", "the engine must log to stderr only"
    assert b"not generative video" in stderr
