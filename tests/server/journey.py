"""The user journey every transport must carry: create → wait → download → remix → list → delete."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av

from tests.results import structured
from tests.server.conftest import SECRET_KEY


def assert_no_secret(result: Any) -> None:
    dumped = result.model_dump_json()
    assert SECRET_KEY not in dumped


def check_mp4(path: Path, *, width: int, height: int, seconds: int) -> None:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (width, height)
        frames = sum(1 for _ in container.decode(stream))
    assert abs(frames - seconds * 24) <= 1


async def journey(client: Any, *, data_dir: Path) -> dict[str, Any]:
    """Run the whole journey; returns facts the caller may check further."""
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(p: float, total: float | None, message: str | None) -> None:
        progress.append((p, total, message))

    created = await client.call_tool(
        "create_video",
        {"prompt": "A paper boat drifting down a rainy street gutter", "size": "720x1280", "seconds": "4",
         "camera": "slow push-in", "palette": "teal and amber"},
    )
    assert_no_secret(created)
    job = structured(created)
    assert job["status"] in ("queued", "in_progress")
    assert job["prompt"].startswith("Primary request: A paper boat")
    assert "Camera: slow push-in" in job["prompt"]
    vid = job["id"]

    waited = await client.call_tool("get_status", {"video_id": vid, "wait_seconds": 120},
                                    progress_callback=on_progress)
    assert_no_secret(waited)
    status = structured(waited)
    assert status["all_done"] is True and status["jobs"][0]["status"] == "completed", status
    assert progress, "no progress notification arrived"
    assert progress[-1][0] <= (progress[-1][1] or 100)
    assert any(c.type == "image" for c in waited.content), "completed job should show its thumbnail"

    downloaded = structured(await client.call_tool("download_asset", {"video_id": vid}))
    path = Path(downloaded["path"])
    assert path.is_file() and path.resolve().is_relative_to(data_dir.resolve())
    assert downloaded["mime_type"] == "video/mp4" and downloaded["size_bytes"] == path.stat().st_size
    check_mp4(path, width=720, height=1280, seconds=4)

    remixed = structured(await client.call_tool("remix_video", {"video_id": vid, "prompt": "Same shot at night"}))
    assert remixed["remixed_from_video_id"] == vid and remixed["id"] != vid

    listed = structured(await client.call_tool("list_videos", {"limit": 10}))
    ids = [j["id"] for j in listed["data"]]
    assert vid in ids and remixed["id"] in ids

    deleted = structured(await client.call_tool("delete_video", {"video_id": vid}))
    assert deleted == {**deleted, "id": vid, "deleted": True}
    assert path.is_file(), "archived file must be kept unless delete_local_files=true"
    return {"video_id": vid, "remix_id": remixed["id"], "progress": progress}
