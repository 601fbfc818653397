"""LiteLLM's ~200-character base64 ids (with `+` and `=`) go through every tool and resource
untouched, and become a safe, short folder name in the library."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.backends.fakes import FakeServer

from .conftest import mcp_client, refusal, settings_for, structured

pytestmark = pytest.mark.anyio


async def test_long_ids_through_every_tool(serve_fake: Callable[[str], FakeServer], data_dir: Path) -> None:
    server = serve_fake("litellm")
    fake = server.fake
    async with mcp_client(settings_for(server.base_url, data_dir)) as client:
        vid = structured(
            await client.call_tool("create_video", {"prompt": "A lighthouse", "model": "wan-video"})
        )["id"]
        assert len(vid) > 190 and "+" in vid and vid.endswith("=") and vid in fake.jobs
        first = structured(await client.call_tool("get_status", {"video_ids": [vid]}))["jobs"][0]
        assert (first["id"], first["status"]) == (vid, "in_progress")  # LiteLLM said "processing"
        done = structured(await client.call_tool("get_status", {"video_id": vid, "wait_seconds": 30}))
        assert done["jobs"][0]["status"] == "completed"

        folders = set()
        for variant in ("video", "thumbnail", "spritesheet"):
            asset = structured(
                await client.call_tool("download_asset", {"video_id": vid, "variant": variant})
            )
            assert asset["video_id"] == vid and asset["derived"] is (variant != "video")
            folders.add(Path(asset["path"]).parent)
        (folder,) = folders
        assert folder.parent == data_dir / "library" and len(folder.name) <= 65
        assert "+" not in folder.name and "=" not in folder.name

        resource = json.loads((await client.read_resource(f"sora://videos/{vid}")).contents[0].text)
        assert resource["id"] == vid and len(resource["assets"]) == 3

        remix = structured(await client.call_tool("remix_video", {"video_id": vid, "prompt": "At dawn"}))
        assert remix["remixed_from_video_id"] == vid and remix["id"] in fake.jobs
        for tool in ("extend_video", "edit_video"):  # this LiteLLM has no such routes
            args = {"video_id": vid, "prompt": "More"} | ({"seconds": 4} if tool == "extend_video" else {})
            text = refusal(await client.call_tool(tool, args))
            assert "This backend (LiteLLM) cannot" in text and "no " in text and "create_video" in text

        listed = structured(await client.call_tool("list_videos", {}))
        assert {vid, remix["id"]} <= {j["id"] for j in listed["data"]} and listed.get("note") is None
        deleted = structured(
            await client.call_tool("delete_video", {"video_id": vid, "delete_local_files": True})
        )
        assert (deleted["id"], deleted["deleted"], deleted["local_files_deleted"]) == (vid, False, True)
        assert "cannot delete" in deleted["note"] and "kept" not in deleted["note"]
        assert not folder.exists() and vid in fake.jobs  # our files went; the backend keeps its copy
    paths = [p for _, p, _ in fake.log]
    assert any(p.startswith("/v1/videos/video_") and len(p) > 200 for p in paths)
    lists = [h for m, p, h in fake.log if (m, p) == ("GET", "/v1/videos")]
    assert lists and all(h["custom-llm-provider"] == "hosted_vllm" for h in lists)  # read from the id
