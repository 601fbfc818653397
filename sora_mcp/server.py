"""Builds the MCPServer for a VideoService: wiring only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp.server import MCPServer

from sora_mcp import __version__
from sora_mcp.apps import build_apps, hide_app_tools
from sora_mcp.prompts import register_prompts
from sora_mcp.resources import register_resources
from sora_mcp.service import VideoService
from sora_mcp.tools import register_tools

INSTRUCTIONS = """\
sora-mcp generates videos on an OpenAI /v1/videos backend (or, with no backend configured, on a
local engine that renders procedural PREVIEW clips, not generative video).
Typical flow: create_video -> get_status(video_id, wait_seconds=120) -> download_asset(video_id).
Completed jobs are archived into a local library automatically; list_videos finds old ones.
Read sora://prompt-template for the prompt structure and sora://models for allowed sizes and durations.
"""


def build_server(service: VideoService) -> MCPServer:
    @asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[VideoService]:
        # The CLI starts the service around the transport; in-process use may not have.
        if service.started:
            yield service
        else:
            async with service:
                yield service

    mcp = MCPServer(
        name="sora-mcp",
        title="sora-mcp",
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        log_level="WARNING",
        # MCP Apps: the in-chat player and its app-only tools (see sora_mcp.apps).
        extensions=[build_apps(service)],
        middleware=[hide_app_tools],
    )
    register_tools(mcp, service)
    register_resources(mcp, service)
    register_prompts(mcp)
    return mcp
