"""The same journey through the MCP server on every dialect: create → wait → download the video
and its thumbnail → list → delete, each backend's missing features answered by clear messages.

Each fake reproduces one real backend (see tests/dialects/fake_dialects.py); the agent's side is
the official MCP client calling our tools in-process, so what is checked is what an agent sees.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image

from tests.backends.fakes import FakeServer, FakeVideos

from .conftest import mcp_client, refusal, settings_for, structured, text_of

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Expect:
    """What one dialect's journey must show the agent."""

    model: str
    size: str
    backend: str  # the dialect detected, as reported in each job's `backend`
    missing: str  # a derive tool the backend lacks ("" when it has them all)
    names: str  # how refusals name the backend
    deletes: bool
    raw_statuses: tuple[str, ...]  # what the fake says while the job runs


EXPECT = {
    "vllm-omni": Expect(
        "Wan-AI/Wan2.2-T2V-A14B-Diffusers",
        "832x480",
        "vllm-omni",
        "remix_video",
        "vLLM-Omni",
        True,
        ("queued", "in_progress", "completed"),
    ),
    "sglang": Expect(
        "Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
        "832x480",
        "sglang",
        "extend_video",
        "SGLang",
        True,
        ("queued", "in_progress", "completed"),
    ),
    "litellm": Expect(
        "wan-video", "1280x720", "litellm", "", "LiteLLM", False, ("queued", "processing", "completed")
    ),
    "gateway": Expect(
        "gw-video-1",
        "1280x720",
        "generic",
        "remix_video",
        "generic /v1/videos",
        True,
        ("pending", "processing", "succeeded"),
    ),
}


async def _wait(client: Any, vid: str) -> tuple[dict[str, Any], list[tuple[float, float | None]]]:
    progress: list[tuple[float, float | None]] = []

    async def on_progress(p: float, total: float | None, message: str | None) -> None:
        progress.append((p, total))

    waited = structured(
        await client.call_tool(
            "get_status", {"video_id": vid, "wait_seconds": 45}, progress_callback=on_progress
        )
    )
    return waited, progress


def _check_files(video: dict[str, Any], thumb: dict[str, Any], data_dir: Path, served: bytes) -> None:
    mp4, webp = Path(video["path"]), Path(thumb["path"])
    for path in (mp4, webp):
        assert path.is_file() and path.resolve().is_relative_to(data_dir.resolve())
    assert mp4.read_bytes() == served and video["derived"] is False
    with av.open(str(mp4)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 24
    with Image.open(io.BytesIO(webp.read_bytes())) as image:
        assert image.format == "WEBP" and image.size[0] > 0
    assert thumb["derived"] is True and thumb["mime_type"] == "image/webp" and mp4.parent == webp.parent


async def _refused_derive(client: Any, tool: str, vid: str, names: str) -> None:
    args = {"video_id": vid, "prompt": "the same shot, at night"} | (
        {"seconds": 4} if tool == "extend_video" else {}
    )
    text = refusal(await client.call_tool(tool, args))
    feature = tool.removesuffix("_video")
    assert f"This backend ({names}) cannot {feature}" in text and "create_video" in text, text


def _what_the_backend_did(kind: str, fake: FakeVideos, vid: str) -> None:
    """The dialect quirk each journey went through, seen from the fake's side."""
    if kind == "sglang":
        assert fake.render(fake.jobs[vid])["progress"] == 99  # capped, yet the wait ended at 100
    if kind == "gateway":  # no /content route: the MP4 came from the completion's video_url
        assert ("GET", f"/files/{vid}.mp4") in [(m, p) for m, p, _ in fake.log]
    if kind in ("vllm-omni", "sglang"):  # one download, of the MP4: named variants are never asked for
        assert len([p for _, p, _ in fake.log if p.endswith("/content")]) == 1


@pytest.mark.parametrize("kind", list(EXPECT))
async def test_journey_on_every_dialect(
    kind: str, serve_fake: Callable[[str], FakeServer], data_dir: Path, mp4: bytes
) -> None:
    expect = EXPECT[kind]
    server = serve_fake(kind)
    fake = server.fake
    async with mcp_client(settings_for(server.base_url, data_dir, watch=True)) as client:
        created = structured(
            await client.call_tool(
                "create_video",
                {
                    "prompt": "A red kite over dunes",
                    "model": expect.model,
                    "size": expect.size,
                    "seconds": "4",
                },
            )
        )
        vid = created["id"]
        # The create answer said `expect.raw_statuses[0]`; the agent sees OpenAI's word.
        assert (created["status"], created["backend"]) == ("queued", expect.backend)
        assert fake.steps == expect.raw_statuses

        waited, progress = await _wait(client, vid)
        job = waited["jobs"][0]
        assert waited["all_done"] and (job["status"], job["progress"]) == ("completed", 100)
        assert fake.jobs[vid]["status"] == expect.raw_statuses[-1]  # the backend's own word for it
        assert progress and all(p <= (total or 100) for p, total in progress)
        _what_the_backend_did(kind, fake, vid)

        video = structured(await client.call_tool("download_asset", {"video_id": vid}))
        thumb_result = await client.call_tool("download_asset", {"video_id": vid, "variant": "thumbnail"})
        thumb = structured(thumb_result)
        _check_files(video, thumb, data_dir, mp4)
        assert "made locally by sora-mcp from the downloaded MP4" in text_of(thumb_result)
        assert any(c.type == "image" for c in thumb_result.content)

        if expect.missing:
            await _refused_derive(client, expect.missing, vid, expect.names)

        listed = structured(await client.call_tool("list_videos", {"limit": 10}))
        entry = next(j for j in listed["data"] if j["id"] == vid)
        assert entry["where"] == "both" and entry["status"] == "completed" and listed.get("note") is None

        deleted = structured(await client.call_tool("delete_video", {"video_id": vid}))
        assert deleted["deleted"] is expect.deletes
        if not expect.deletes:
            assert f"This backend ({expect.names}) cannot delete" in deleted["note"]
            assert "the local record is marked deleted" in deleted["note"]
        assert Path(video["path"]).is_file()  # archived files are kept unless asked otherwise
        after = structured(await client.call_tool("list_videos", {}))
        entry = next(j for j in after["data"] if j["id"] == vid)
        # Gone from the backend (local only), or on LiteLLM still there but marked deleted here.
        assert (entry["status"], entry["where"]) == ("deleted", "local" if expect.deletes else "both")
