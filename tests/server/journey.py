"""The user journey every transport must carry: create → wait → download → remix → list → spend → delete.

Every result is also measured against the agent's byte budgets (issue #21): the text an agent
reads and the images it is shown, as the client received them.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import av
from PIL import Image

from tests.results import structured
from tests.server.conftest import SECRET_KEY

WAIT = 45  # the suggested wait: under the ~60 s some clients allow a tool call
BUDGET_CREATE = 1200
BUDGET_STATUS_DONE = 2000
BUDGET_LIST_PER_JOB = 350
BUDGET_SMALL = 800  # download, spend, delete: a few lines each
THUMB_MAX_WIDTH = 480


def assert_no_secret(result: Any) -> None:
    dumped = result.model_dump_json()
    assert SECRET_KEY not in dumped


def check_mp4(path: Path, *, width: int, height: int, seconds: int) -> None:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (width, height)
        frames = sum(1 for _ in container.decode(stream))
    assert abs(frames - seconds * 24) <= 1


def text_bytes(result: Any) -> int:
    return sum(len(c.text.encode()) for c in result.content if c.type == "text")


def images(result: Any) -> list[Any]:
    return [c for c in result.content if c.type == "image"]


def measure(result: Any) -> dict[str, int]:
    """Bytes the agent is sent: text, and images as base64 on the wire."""
    return {
        "text": text_bytes(result),
        "images": sum(len(i.data) for i in images(result)),
        "n_images": len(images(result)),
    }


def assert_labelled_small_images(result: Any) -> None:
    """Each image is at most 480 px wide and follows a text line naming its job."""
    for i, block in enumerate(result.content):
        if block.type != "image":
            continue
        assert i > 0 and result.content[i - 1].type == "text", "an image must follow a line naming its job"
        assert "video_" in result.content[i - 1].text.splitlines()[-1]
        with Image.open(io.BytesIO(base64.b64decode(block.data))) as img:
            assert img.width <= THUMB_MAX_WIDTH, img.size


async def wait_done(client: Any, ids: list[str], on_progress: Any = None) -> Any:
    """get_status with the suggested wait, again until all_done (the polling contract)."""
    args: dict[str, Any] = {"video_id": ids[0]} if len(ids) == 1 else {"video_ids": ids}
    for _ in range(10):
        result = await client.call_tool(
            "get_status", {**args, "wait_seconds": WAIT}, progress_callback=on_progress
        )
        if structured(result)["all_done"]:
            return result
    raise AssertionError("jobs did not end after 10 waits")


async def journey(client: Any, *, data_dir: Path, dest_dir: Path | None = None) -> dict[str, Any]:
    """Run the whole journey; returns facts (and the bytes of each result) the caller may check further."""
    progress: list[tuple[float, float | None, str | None]] = []
    sizes: dict[str, dict[str, int]] = {}

    async def on_progress(p: float, total: float | None, message: str | None) -> None:
        progress.append((p, total, message))

    tools = (await client.list_tools()).tools
    sizes["tools/list"] = {
        "text": len(_compact([t.model_dump(mode="json", exclude_none=True, by_alias=True) for t in tools])),
        "images": 0,
        "n_images": 0,
    }

    created = await client.call_tool(
        "create_video",
        {
            "prompt": "A paper boat drifting down a rainy street gutter",
            "size": "720x1280",
            "seconds": "4",
            "shot": {"camera": "slow push-in", "palette": "teal and amber"},
        },
    )
    assert_no_secret(created)
    sizes["create"] = measure(created)
    job = structured(created)
    assert job["status"] in ("queued", "in_progress")
    assert job["prompt"].startswith("Primary request: A paper boat")
    assert "Camera: slow push-in" in job["prompt"]
    vid = job["id"]
    assert vid in created.content[0].text and f"wait_seconds={WAIT}" in created.content[0].text

    waited = await wait_done(client, [vid], on_progress)
    assert_no_secret(waited)
    sizes["get_status"] = measure(waited)
    status = structured(waited)
    assert status["all_done"] is True and status["jobs"][0]["status"] == "completed", status
    assert progress, "no progress notification arrived"
    assert progress[-1][0] <= (progress[-1][1] or 100)
    assert len(images(waited)) == 1, "a completed job shows its thumbnail once"
    assert_labelled_small_images(waited)
    video_path = next(a["path"] for a in status["jobs"][0]["assets"] if a["variant"] == "video")
    assert video_path in waited.content[0].text, "the text names the MP4's path"
    again = await client.call_tool("get_status", {"video_id": vid})
    assert images(again) == [], "the thumbnail is not sent again"
    sizes["get_status again"] = measure(again)

    download_args: dict[str, Any] = {"video_id": vid}
    if dest_dir is not None:
        download_args["destination"] = str(dest_dir / "boat.mp4")
    downloaded_result = await client.call_tool("download_asset", download_args)
    sizes["download"] = measure(downloaded_result)
    downloaded = structured(downloaded_result)
    path = Path(downloaded["path"])
    assert path.is_file() and path.resolve().is_relative_to(data_dir.resolve())
    assert downloaded["mime_type"] == "video/mp4" and downloaded["size_bytes"] == path.stat().st_size
    check_mp4(path, width=720, height=1280, seconds=4)
    if dest_dir is not None:
        copy = dest_dir / "boat.mp4"
        assert downloaded["copied_to"] == str(copy.resolve()) and copy.read_bytes() == path.read_bytes()

    remixed_result = await client.call_tool("remix_video", {"video_id": vid, "prompt": "Same shot at night"})
    sizes["remix"] = measure(remixed_result)
    remixed = structured(remixed_result)
    assert remixed["remixed_from_video_id"] == vid and remixed["id"] != vid

    listed_result = await client.call_tool("list_videos", {"limit": 5})
    sizes["list_videos"] = measure(listed_result)
    listed = structured(listed_result)
    ids = [j["id"] for j in listed["data"]]
    assert vid in ids and remixed["id"] in ids
    assert all(i in listed_result.content[0].text for i in ids)

    spend = await client.call_tool("get_spend", {})
    sizes["get_spend"] = measure(spend)
    assert "today" in spend.content[0].text and "total_usd" in structured(spend)

    deleted_result = await client.call_tool("delete_video", {"video_id": vid})
    sizes["delete"] = measure(deleted_result)
    deleted = structured(deleted_result)
    assert deleted == {**deleted, "id": vid, "deleted": True}
    assert path.is_file(), "archived file must be kept unless delete_local_files=true"

    check_budgets(sizes, listed_jobs=len(ids))
    return {"video_id": vid, "remix_id": remixed["id"], "progress": progress, "sizes": sizes}


def _compact(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))


def check_budgets(sizes: dict[str, dict[str, int]], *, listed_jobs: int) -> None:
    assert sizes["tools/list"]["text"] <= 12_000, sizes["tools/list"]
    assert sizes["create"]["text"] <= BUDGET_CREATE and sizes["create"]["n_images"] == 0, sizes["create"]
    assert sizes["remix"]["text"] <= BUDGET_CREATE and sizes["remix"]["n_images"] == 0, sizes["remix"]
    assert sizes["get_status"]["text"] <= BUDGET_STATUS_DONE and sizes["get_status"]["n_images"] <= 1
    assert (
        sizes["get_status again"]["text"] <= BUDGET_STATUS_DONE and sizes["get_status again"]["n_images"] == 0
    )
    assert sizes["list_videos"]["text"] <= BUDGET_LIST_PER_JOB * max(listed_jobs, 1), sizes["list_videos"]
    for name in ("download", "get_spend", "delete"):
        assert sizes[name]["text"] <= BUDGET_SMALL and sizes[name]["n_images"] == 0, (name, sizes[name])
