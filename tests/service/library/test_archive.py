"""Archive on completion from every path, the ledger's record of a job, and download_asset from the library."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import av
import pytest
from PIL import Image

from sora_mcp.engine import EngineServer
from tests.service.library.conftest import (
    archived,
    engine_bytes,
    engine_wait,
    eventually,
    file_sha256,
    make_settings,
    open_client,
    sha256,
    structured,
)

pytestmark = pytest.mark.anyio


async def test_wait_archives_every_variant_and_the_ledger_remembers_the_job(
    fast_engine: EngineServer, data_dir: Path
) -> None:
    inputs = data_dir.parent / "inputs"
    inputs.mkdir()
    ref = inputs / "first.png"
    Image.new("RGB", (320, 180), (200, 80, 20)).save(ref)
    settings = make_settings(fast_engine, data_dir)
    async with open_client(settings) as (client, service):
        job = structured(
            await client.call_tool(
                "create_video",
                {
                    "prompt": "A sunset over a quiet harbour",
                    "shot": {"camera": "slow pan"},
                    "input_reference": str(ref),
                },
            )
        )
        vid = job["id"]
        # Written by create itself before it returned (not by a later status read).
        record = service.ledger.get(vid)
        assert record is not None and record.kind == "create"
        assert record.prompt_given == "A sunset over a quiet harbour"
        assert "Camera: slow pan" in record.prompt_sent and record.augmentation == {"camera": "slow pan"}
        assert record.input_reference_sha256 == hashlib.sha256(ref.read_bytes()).hexdigest()
        assert record.cost_usd is not None or record.cost_note

        status = structured(await client.call_tool("get_status", {"video_id": vid, "wait_seconds": 45}))
        assert status["jobs"][0]["status"] == "completed"
        assets = {a["variant"]: a for a in status["jobs"][0]["assets"]}
        assert set(assets) == {"video", "thumbnail", "spritesheet"}

        record = service.ledger.get(vid)
        statuses = [h.status for h in record.history]
        assert statuses[0] == "queued" and statuses[-1] == "completed"
        assert all(h.at > 0 for h in record.history) and record.polls >= 1
        for variant in ("video", "thumbnail", "spritesheet"):
            stored = record.asset(variant)
            path = data_dir / stored.path
            assert path.stat().st_size == stored.size_bytes
            assert file_sha256(path) == stored.sha256 == sha256(engine_bytes(fast_engine, vid, variant))
        with av.open(str(data_dir / record.asset("video").path)) as container:
            assert container.streams.video[0].codec_context.width == 1280


async def test_plain_get_status_archives_a_completed_job(fast_engine: EngineServer, data_dir: Path) -> None:
    async with open_client(make_settings(fast_engine, data_dir)) as (client, _):
        vid = structured(await client.call_tool("create_video", {"prompt": "A red kite"}))["id"]
        engine_wait(fast_engine, vid)
        assert archived(data_dir, vid) is None  # nothing archived it yet (no watcher, no wait)
        job = structured(await client.call_tool("get_status", {"video_id": vid}))["jobs"][0]
        assert job["status"] == "completed" and any(a["variant"] == "video" for a in job["assets"])
        assert file_sha256(Path(job["assets"][-1]["path"])) == job["assets"][-1]["sha256"]


async def test_list_videos_archives_completed_jobs_in_the_background(
    fast_engine: EngineServer, data_dir: Path
) -> None:
    async with open_client(make_settings(fast_engine, data_dir, archive_variants=["video"])) as (client, _):
        vid = structured(await client.call_tool("create_video", {"prompt": "A blue heron"}))["id"]
        engine_wait(fast_engine, vid)
        listed = structured(await client.call_tool("list_videos", {}))
        assert [j["id"] for j in listed["data"]] == [vid]
        asset = await eventually(lambda: archived(data_dir, vid), what="list_videos to archive the job")
        assert file_sha256(data_dir / asset.path) == sha256(engine_bytes(fast_engine, vid))
        assert archived(data_dir, vid, "thumbnail") is None  # only the configured variants


async def test_the_watcher_archives_without_any_tool_call(fast_engine: EngineServer, data_dir: Path) -> None:
    settings = make_settings(fast_engine, data_dir, watch=True, archive_variants=["video", "thumbnail"])
    async with open_client(settings) as (client, _):
        vid = structured(await client.call_tool("create_video", {"prompt": "Snow on a tin roof"}))["id"]
        asset = await eventually(lambda: archived(data_dir, vid, "thumbnail"), what="the watcher to archive")
        assert archived(data_dir, vid) is not None
        assert file_sha256(data_dir / asset.path) == sha256(engine_bytes(fast_engine, vid, "thumbnail"))
        assert archived(data_dir, vid, "spritesheet") is None


async def test_download_asset_answers_from_the_library_and_repairs_missing_or_corrupt_files(
    fast_engine: EngineServer, data_dir: Path
) -> None:
    content_gets = "/v1/videos/*"
    async with open_client(make_settings(fast_engine, data_dir, archive_variants=["video"])) as (client, _):
        vid = structured(await client.call_tool("create_video", {"prompt": "A lighthouse at dusk"}))["id"]
        structured(await client.call_tool("get_status", {"video_id": vid, "wait_seconds": 45}))
        truth = sha256(engine_bytes(fast_engine, vid))
        fast_engine.stats.reset()

        first = structured(await client.call_tool("download_asset", {"video_id": vid}))
        path = Path(first["path"])
        assert first["sha256"] == truth and fast_engine.stats.count("GET", content_gets) == 0

        path.unlink()
        restored = structured(await client.call_tool("download_asset", {"video_id": vid}))
        assert Path(restored["path"]) == path and file_sha256(path) == truth
        assert fast_engine.stats.count("GET", f"/v1/videos/{vid}/content") == 1

        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF  # same size, one byte flipped
        path.write_bytes(bytes(data))
        repaired = structured(await client.call_tool("download_asset", {"video_id": vid}))
        assert file_sha256(Path(repaired["path"])) == truth
        assert fast_engine.stats.count("GET", f"/v1/videos/{vid}/content") == 2

        # A variant not archived on completion is fetched on demand, then kept.
        thumb = structured(
            await client.call_tool("download_asset", {"video_id": vid, "variant": "thumbnail"})
        )
        assert Image.open(io.BytesIO(Path(thumb["path"]).read_bytes())).format == "WEBP"
        assert archived(data_dir, vid, "thumbnail").sha256 == thumb["sha256"]


async def test_remix_extend_and_edit_record_their_lineage(fast_engine: EngineServer, data_dir: Path) -> None:
    async with open_client(make_settings(fast_engine, data_dir, archive_variants=["video"])) as (
        client,
        service,
    ):
        src = structured(
            await client.call_tool("create_video", {"prompt": "A paper lantern", "seconds": "4"})
        )["id"]
        structured(await client.call_tool("get_status", {"video_id": src, "wait_seconds": 45}))
        remix = structured(
            await client.call_tool("remix_video", {"video_id": src, "prompt": "Same, at night"})
        )
        extend = structured(
            await client.call_tool(
                "extend_video", {"video_id": src, "prompt": "It floats away", "seconds": "4"}
            )
        )
        edit = structured(await client.call_tool("edit_video", {"video_id": src, "prompt": "Make it blue"}))
        ledger = service.ledger
        assert (ledger.get(remix["id"]).kind, ledger.get(remix["id"]).remixed_from) == ("remix", src)
        assert (ledger.get(extend["id"]).kind, ledger.get(extend["id"]).extended_from) == ("extend", src)
        assert (ledger.get(edit["id"]).kind, ledger.get(edit["id"]).edited_from) == ("edit", src)
        assert remix["remixed_from_video_id"] == src and extend["extended_from_video_id"] == src

        summary = json.loads((await client.read_resource("sora://library")).contents[0].text)
        assert summary["jobs"] == 4 and summary["assets"] == 1
        assert summary["bytes_on_disk"] == ledger.get(src).asset("video").size_bytes
        assert summary["by_status"].get("completed") == 1
        assert {r["id"] for r in summary["recent"]} == {src, remix["id"], extend["id"], edit["id"]}
