"""delete_video keeps paid files unless asked; archived files outlive the backend's expiring links."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from sora_mcp.engine import EngineServer
from tests.service.library.conftest import (
    API_KEY,
    archived,
    engine_bytes,
    engine_download,
    error_text,
    eventually,
    make_settings,
    open_client,
    sha256,
    structured,
)

pytestmark = pytest.mark.anyio


async def _made_and_archived(client, prompt: str) -> tuple[str, list[Path]]:
    vid = structured(await client.call_tool("create_video", {"prompt": prompt}))["id"]
    job = structured(await client.call_tool("get_status", {"video_id": vid, "wait_seconds": 45}))["jobs"][0]
    paths = [Path(a["path"]) for a in job["assets"]]
    assert len(paths) == 3 and all(p.is_file() for p in paths)
    return vid, paths


async def test_delete_keeps_local_files_unless_asked(fast_engine: EngineServer, data_dir: Path) -> None:
    async with open_client(make_settings(fast_engine, data_dir)) as (client, _):
        kept, kept_paths = await _made_and_archived(client, "A clip to keep")
        result = structured(await client.call_tool("delete_video", {"video_id": kept}))
        assert result["deleted"] is True and result["local_files_deleted"] is False
        assert "kept" in result["note"]
        assert all(p.is_file() for p in kept_paths), "a paid asset is never lost silently"
        assert fast_engine.jobs_count() == 0  # really gone from the backend

        gone, gone_paths = await _made_and_archived(client, "A clip to remove")
        result = structured(
            await client.call_tool("delete_video", {"video_id": gone, "delete_local_files": True})
        )
        assert result["deleted"] is True and result["local_files_deleted"] is True
        assert not any(p.exists() for p in gone_paths) and not gone_paths[0].parent.exists()
        assert all(p.is_file() for p in kept_paths)

        listed = {j["id"]: j for j in structured(await client.call_tool("list_videos", {}))["data"]}
        assert listed[kept]["where"] == "local" and listed[kept]["status"] == "deleted"
        assert gone not in listed
        again = structured(await client.call_tool("download_asset", {"video_id": kept}))
        assert Path(again["path"]) == next(p for p in kept_paths if p.suffix == ".mp4")
        refused = await client.call_tool("download_asset", {"video_id": gone})
        assert refused.is_error and "download" in error_text(refused).lower()


def _expired_on_engine(engine: EngineServer, video_id: str) -> bool:
    try:
        engine_download(engine, video_id)
    except openai.NotFoundError as exc:
        assert "expired" in str(exc)
        return True
    return False


async def test_archived_files_outlive_the_backends_expiry(engine_factory, data_dir: Path) -> None:
    engine = engine_factory(api_key=API_KEY, poll_after_ms=100, asset_ttl_s=3)
    settings = make_settings(engine, data_dir, watch=True, archive_variants=["video"])
    async with open_client(settings) as (client, _):
        vid = structured(await client.call_tool("create_video", {"prompt": "A fleeting rainbow"}))["id"]
        asset = await eventually(lambda: archived(data_dir, vid), what="the watcher to archive on completion")
        truth = engine_bytes(engine, vid)
        await eventually(
            lambda: _expired_on_engine(engine, vid), timeout_s=15, what="the engine's link to expire"
        )

        got = structured(await client.call_tool("download_asset", {"video_id": vid}))
        assert got["sha256"] == asset.sha256 == sha256(truth)
        assert Path(got["path"]).read_bytes() == truth


async def test_a_job_not_archived_before_expiry_gets_a_clear_expired_error(
    engine_factory, data_dir: Path
) -> None:
    engine = engine_factory(api_key=API_KEY, poll_after_ms=100, asset_ttl_s=1)
    # No watcher and no status read: nothing archives the job before its link expires.
    async with open_client(make_settings(engine, data_dir, watch=False)) as (client, _):
        vid = structured(await client.call_tool("create_video", {"prompt": "A soap bubble"}))["id"]
        await eventually(lambda: _expired_on_engine_quiet(engine, vid), what="the engine's link to expire")
        result = await client.call_tool("download_asset", {"video_id": vid})
        assert result.is_error
        text = error_text(result)
        assert "expired" in text and vid in text and "Remix" in text
        assert "Traceback" not in text and archived(data_dir, vid) is None


def _expired_on_engine_quiet(engine: EngineServer, video_id: str) -> bool:
    try:
        engine_download(engine, video_id)
    except (openai.NotFoundError, openai.ConflictError) as exc:
        return "expired" in str(exc)
    return False
