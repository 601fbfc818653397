"""list_videos merges the backend and the ledger: where, filters, a stable cursor, and an unreachable backend."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import pytest

from sora_mcp.engine import EngineServer
from tests.service.library.conftest import (
    engine_create,
    engine_wait,
    make_settings,
    open_client,
    sdk,
    structured,
)

pytestmark = pytest.mark.anyio


def _delete_on_engine(engine: EngineServer, video_id: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert sdk(engine).videos.delete(video_id).deleted


async def test_list_merges_remote_local_only_and_both(fast_engine: EngineServer, data_dir: Path) -> None:
    async with open_client(make_settings(fast_engine, data_dir, archive_variants=["video"])) as (
        client,
        service,
    ):
        ids = [
            structured(await client.call_tool("create_video", {"prompt": f"Clip {n}"}))["id"]
            for n in range(2)
        ]
        structured(await client.call_tool("get_status", {"video_ids": ids, "wait_seconds": 45}))
        for vid in ids:  # a wait on several jobs answers when they end; their files follow
            await service.archived(vid)
        gone, kept = ids
        _delete_on_engine(fast_engine, gone)  # behind sora-mcp's back: only the library has it now
        external = engine_create(fast_engine, "Made elsewhere").id

        page = structured(await client.call_tool("list_videos", {"limit": 10}))
        where = {j["id"]: j for j in page["data"]}
        assert set(where) == {gone, kept, external}
        assert where[gone]["where"] == "local" and where[gone]["status"] == "completed"
        local_video = next(a for a in where[gone]["assets"] if a["variant"] == "video")
        assert Path(local_video["path"]).is_file()
        assert "no longer has" in where[gone]["next_step"]
        assert where[kept]["where"] == "both"
        assert where[external]["where"] == "remote" and where[external]["assets"] == []

        # The local-only job is still downloadable, from the library.
        asset = structured(await client.call_tool("download_asset", {"video_id": gone}))
        assert asset["sha256"] == local_video["sha256"]


async def test_filters_status_model_since_and_text(engine_factory, data_dir: Path) -> None:
    from tests.service.library.conftest import API_KEY

    engine = engine_factory(api_key=API_KEY, poll_after_ms=100, denylist=["forbidden lantern"])
    async with open_client(make_settings(engine, data_dir)) as (client, _):
        sunset = structured(
            await client.call_tool("create_video", {"prompt": "The sunset clip over the bay"})
        )["id"]
        pro = structured(
            await client.call_tool("create_video", {"prompt": "A city at noon", "model": "sora-2-pro"})
        )
        failed = structured(await client.call_tool("create_video", {"prompt": "A forbidden lantern"}))["id"]
        for vid in (sunset, pro["id"], failed):
            engine_wait(engine, vid)

        async def ids(**args: object) -> list[str]:
            return [j["id"] for j in structured(await client.call_tool("list_videos", args))["data"]]

        assert await ids(text="sunset") == [sunset]
        assert await ids(model="sora-2-pro") == [pro["id"]]
        assert await ids(status="failed") == [failed]
        assert set(await ids(status="completed")) == {sunset, pro["id"]}
        assert set(await ids(created_since=int(time.time()) - 600)) == {sunset, pro["id"], failed}
        assert await ids(created_since=int(time.time()) + 3600) == []


async def test_cursor_is_stable_when_jobs_are_added_between_pages(
    fast_engine: EngineServer, data_dir: Path
) -> None:
    async with open_client(make_settings(fast_engine, data_dir)) as (client, _):
        first = [
            structured(await client.call_tool("create_video", {"prompt": f"Batch A {n}"}))["id"]
            for n in range(5)
        ]
        seen: list[str] = []
        after = None
        added = 0
        while True:
            args: dict[str, object] = {"limit": 2} | ({"after": after} if after else {})
            page = structured(await client.call_tool("list_videos", args))
            seen += [j["id"] for j in page["data"]]
            if added < 2:  # new jobs arrive while the agent is paging
                await client.call_tool("create_video", {"prompt": f"Batch B {added}"})
                engine_create(fast_engine, f"External {added}")
                added += 1
            after = page["next_after"]
            if not page["has_more"]:
                break
        assert len(seen) == len(set(seen)), f"duplicates across pages: {seen}"
        # Every first-batch job exactly once, in the same order one big page gives (newest first, ties by id).
        whole = [j["id"] for j in structured(await client.call_tool("list_videos", {"limit": 100}))["data"]]
        assert sorted(v for v in seen if v in first) == sorted(first)
        assert [v for v in seen if v in first] == [v for v in whole if v in first]


async def test_unreachable_backend_answers_from_the_ledger_and_says_so(
    fast_engine: EngineServer, data_dir: Path
) -> None:
    async with open_client(make_settings(fast_engine, data_dir, archive_variants=["video"])) as (client, _):
        vid = structured(await client.call_tool("create_video", {"prompt": "A harbour at dawn"}))["id"]
        structured(await client.call_tool("get_status", {"video_id": vid, "wait_seconds": 45}))
        fast_engine.stop()

        page = structured(await client.call_tool("list_videos", {}))
        assert [j["id"] for j in page["data"]] == [vid]
        assert page["data"][0]["where"] == "local" and page["data"][0]["assets"]
        assert "could not be listed" in page["note"] and "local library" in page["note"]
        # Archived files still answer while the backend is down.
        asset = structured(await client.call_tool("download_asset", {"video_id": vid}))
        assert Path(asset["path"]).is_file()
