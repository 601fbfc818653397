"""Fixtures for the player tests: a VideoService on the embedded engine, and MCP clients with
and without the MCP Apps extension."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.client import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

from sora_mcp.config import Settings
from sora_mcp.server import build_server
from sora_mcp.service import VideoService

APPS = [advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})]


@pytest.fixture
def settings(engine, data_dir: Path) -> Settings:
    return Settings(base_url=engine.base_url, data_dir=data_dir, watch=True)


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[VideoService]:
    async with VideoService(settings) as svc:
        yield svc


@pytest.fixture
def server(service: VideoService):
    return build_server(service)


def apps_client(server, mode: str = "auto") -> Client:
    """An official MCP client that negotiates MCP Apps, as Claude, ChatGPT or VS Code do."""
    return Client(server, mode=mode, extensions=APPS)


async def clip_info(client: Client, video_id: str) -> dict:
    result = await client.call_tool("player_clip", {"video_id": video_id})
    assert not result.is_error, result.content
    return result.structured_content


async def make_clip(client: Client, prompt: str = "A paper boat drifting down a rainy street at dusk") -> str:
    """Create a clip on the embedded engine; return once it is completed and archived."""
    job = await client.call_tool("create_video", {"prompt": prompt})
    assert not job.is_error, job.content
    video_id = job.structured_content["id"]
    with anyio.fail_after(180):
        while True:
            await client.call_tool("get_status", {"video_id": video_id, "wait_seconds": 45})
            info = await clip_info(client, video_id)
            assert info["status"] in ("queued", "in_progress", "completed"), info
            if info["video_bytes"] and info["spritesheet"] and info["thumbnail"]:
                return video_id
            await anyio.sleep(0.2)  # archiving runs in the background; look again shortly
