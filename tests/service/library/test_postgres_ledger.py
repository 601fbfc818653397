"""The service on a PostgreSQL ledger: the agent's journey, and several instances archiving a job once.

A real PostgreSQL cluster (tests/pg.py) and the official MCP `Client` on in-process servers.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from mcp import Client

from sora_mcp.config import Settings
from sora_mcp.engine import EngineServer
from sora_mcp.library import Ledger
from sora_mcp.server import build_server
from sora_mcp.service import VideoService
from tests.service.library.conftest import (
    engine_bytes,
    engine_wait,
    file_sha256,
    make_settings,
    open_client,
    sha256,
    structured,
)

pytestmark = pytest.mark.anyio
VARIANTS = ["video", "thumbnail", "spritesheet"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_journey_on_the_embedded_engine_with_a_postgres_ledger(
    database_url: str, data_dir: Path, mode: str
) -> None:
    settings = Settings(
        database_url=database_url,
        data_dir=data_dir,
        engine_poll_after_ms=100,
        allowed_roots=[data_dir.parent / "inputs"],
    )
    async with VideoService(settings) as service, Client(build_server(service), mode=mode) as client:
        job = structured(await client.call_tool("create_video", {"prompt": "A kite over a windy beach"}))
        vid = job["id"]
        waited = structured(await client.call_tool("get_status", {"video_id": vid, "wait_seconds": 45}))
        assert waited["jobs"][0]["status"] == "completed", waited
        # Archived before answering, and recorded in PostgreSQL (read back through another connection).
        reader = Ledger(database_url)
        try:
            record = reader.get(vid)
        finally:
            reader.close()
        assert record is not None and record.kind == "create" and record.polls >= 1
        assert {a.variant for a in record.assets} == set(VARIANTS)
        video = record.asset("video")
        assert file_sha256(data_dir / video.path) == video.sha256 == sha256(engine_bytes(service.engine, vid))
        assert [h.status for h in record.history][-1] == "completed"
        listed = structured(await client.call_tool("list_videos", {"text": "windy beach"}))
        assert [j["id"] for j in listed["data"]] == [vid]
        downloaded = structured(await client.call_tool("download_asset", {"video_id": vid}))
        assert Path(downloaded["path"]) == data_dir / video.path
    assert not (data_dir / "ledger.sqlite3").exists(), "the SQLite ledger must not be used"


async def test_two_instances_on_one_database_archive_a_job_once(
    database_url: str, fast_engine: EngineServer, data_dir: Path
) -> None:
    """Two replicas (one database, one shared data volume) asked about the same completed jobs at once."""
    settings = make_settings(fast_engine, data_dir, database_url=database_url)
    async with open_client(settings) as (client_a, _), open_client(settings) as (client_b, _):
        ids = [
            structured(
                await client_a.call_tool("create_video", {"prompt": f"Lanterns on a river, take {i}"})
            )["id"]
            for i in range(3)
        ]
        for vid in ids:
            assert engine_wait(fast_engine, vid).status == "completed"
        fast_engine.stats.reset()
        results: list[dict] = []

        async def ask(client: Client, vid: str) -> None:
            results.append(structured(await client.call_tool("get_status", {"video_id": vid})))

        async with anyio.create_task_group() as tg:
            for vid in ids:
                tg.start_soon(ask, client_a, vid)
                tg.start_soon(ask, client_b, vid)
        assert len(results) == 6 and all(r["jobs"][0]["status"] == "completed" for r in results)
        for vid in ids:
            # Each variant fetched from the backend once, by whichever instance held the claim.
            assert fast_engine.stats.count("GET", f"/v1/videos/{vid}/content") == len(VARIANTS), vid
        reader = Ledger(database_url)
        try:
            for vid in ids:
                record = reader.get(vid)
                assert {a.variant for a in record.assets} == set(VARIANTS)
                video = record.asset("video")
                assert (
                    file_sha256(data_dir / video.path)
                    == video.sha256
                    == sha256(engine_bytes(fast_engine, vid))
                )
        finally:
            reader.close()


async def test_a_dead_instances_archive_claim_is_taken_over(
    database_url: str, fast_engine: EngineServer, data_dir: Path
) -> None:
    settings = make_settings(fast_engine, data_dir, database_url=database_url, archive_variants=["video"])
    async with open_client(settings) as (client, _):
        vid = structured(await client.call_tool("create_video", {"prompt": "A lighthouse at dusk"}))["id"]
        assert engine_wait(fast_engine, vid).status == "completed"
        # Another instance claimed the archive, then died without releasing it.
        other = Ledger(database_url)
        try:
            assert other.claim("archive", vid, "dead-instance", ttl_s=2) is True
        finally:
            other.close()
        fast_engine.stats.reset()
        with anyio.fail_after(30):
            job = structured(await client.call_tool("get_status", {"video_id": vid}))["jobs"][0]
        assert job["status"] == "completed"
        assert fast_engine.stats.count("GET", f"/v1/videos/{vid}/content") == 1
        assert [a["variant"] for a in job["assets"]] == ["video"]
