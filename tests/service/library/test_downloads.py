"""Downloads through the service against the engine's dropped-connection knob: resumed, failed, cancelled."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from sora_mcp.engine import EngineServer
from sora_mcp.library import asset_path
from tests.conditions import eventually
from tests.service.library.conftest import (
    archived,
    engine_bytes,
    engine_create,
    engine_wait,
    error_text,
    make_settings,
    open_client,
    sha256,
    structured,
)

pytestmark = pytest.mark.anyio


def _completed_on_engine(engine: EngineServer, seconds: str = "4") -> tuple[str, bytes]:
    """A job made and finished on the backend alone, so sora-mcp's first sight of it is the download."""
    vid = engine_create(engine, "A slow river under willows", seconds=seconds).id
    assert engine_wait(engine, vid).status == "completed"
    return vid, engine_bytes(engine, vid)


async def test_dropped_connection_is_resumed_with_range(fast_engine: EngineServer, data_dir: Path) -> None:
    async with open_client(make_settings(fast_engine, data_dir, archive_variants=["video"])) as (client, _):
        vid = structured(await client.call_tool("create_video", {"prompt": "Rain on a window"}))["id"]
        engine_wait(fast_engine, vid)
        truth = engine_bytes(fast_engine, vid)
        fast_engine.set_faults(drop_download_after_bytes=len(truth) // 2 + 1)
        fast_engine.stats.reset()
        job = structured(await client.call_tool("get_status", {"video_id": vid, "wait_seconds": 30}))["jobs"][
            0
        ]
        video = next(a for a in job["assets"] if a["variant"] == "video")
        assert Path(video["path"]).read_bytes() == truth and video["sha256"] == sha256(truth)
        content = [s for m, p, s in fast_engine.stats.requests if p == f"/v1/videos/{vid}/content"]
        # Each retry asks for the rest with Range (206), never the whole file again (200).
        assert content[0] == 200 and len(content) >= 2 and set(content[1:]) == {206}, content


async def test_a_download_that_keeps_dropping_fails_cleanly(
    fast_engine: EngineServer, data_dir: Path
) -> None:
    vid, _ = _completed_on_engine(fast_engine)
    fast_engine.set_faults(drop_download_after_bytes=2000)
    settings = make_settings(fast_engine, data_dir)
    async with open_client(settings) as (client, _):
        result = await client.call_tool("download_asset", {"video_id": vid})
        assert result.is_error
        text = error_text(result)
        assert "Download failed after" in text and "try again" in text.lower()
        assert str(data_dir) not in text
    assert not asset_path(settings.library_dir, vid, "video").exists(), "no partial file under the final name"
    assert archived(data_dir, vid) is None


async def test_cancelled_download_leaves_no_file(fast_engine: EngineServer, data_dir: Path) -> None:
    vid, truth = _completed_on_engine(fast_engine, seconds="8")
    # Each response is cut after 70 kB (the client keeps whole 64 KiB reads): uncancelled, a third
    # request at least would be needed to finish the file, so the cancel meets a partial one.
    assert len(truth) > 2 * 65_536, len(truth)
    fast_engine.set_faults(drop_download_after_bytes=70_000)
    settings = make_settings(fast_engine, data_dir)
    tmp = settings.tmp_dir
    async with open_client(settings) as (client, _):
        seen_partial = False
        with anyio.move_on_after(20):
            async with anyio.create_task_group() as tg:
                tg.start_soon(client.call_tool, "download_asset", {"video_id": vid})
                while not seen_partial:  # cancel while a partial temp file exists
                    seen_partial = tmp.is_dir() and any(p.stat().st_size > 0 for p in tmp.iterdir())
                    await anyio.sleep(0.005)
                tg.cancel_scope.cancel()
        assert seen_partial
        # the cancelled call's temp file goes with it (the attempts left were cancelled with it)
        await eventually(lambda: list(tmp.iterdir()) == [], what="the partial temp file to be removed")
        assert not asset_path(settings.library_dir, vid, "video").exists()
        assert archived(data_dir, vid) is None
        # The library is not wedged: the next call succeeds.
        fast_engine.set_faults(drop_download_after_bytes=None)
        asset = structured(await client.call_tool("download_asset", {"video_id": vid}))
        assert Path(asset["path"]).read_bytes() == truth
