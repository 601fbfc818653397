"""Builds the MCPServer for a VideoService: wiring only (tools, argument check, resources, prompts)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from mcp.server import MCPServer

from sora_mcp import __version__
from sora_mcp.server.apps import build_apps, hide_app_tools, player_link
from sora_mcp.server.check import ArgumentCheck
from sora_mcp.server.prompts import register_prompts
from sora_mcp.server.resources import register_resources
from sora_mcp.server.tools import build_tools
from sora_mcp.service import VideoService

PLAYER_TOOLS = ("create_video", "get_status", "download_asset", "list_videos")
INSTRUCTIONS = """\
sora-mcp makes videos on an OpenAI /v1/videos backend (or, with none configured, on a local engine that
renders procedural PREVIEW clips, not generative video).
Flow: create_video -> get_status(video_id, wait_seconds={wait}), called again with the same wait until all_done;
its result lists the files' paths (download_asset copies one where the user wants it).
Cost: dry_run=true checks and quotes without creating; get_spend shows the spend so far and the budget left.
Prompt structure: sora://prompt-template. Models, sizes, durations, prices: sora://models.
"""


def build_server(
    service: VideoService, *, tool_meta: Mapping[str, dict[str, Any]] | None = None
) -> MCPServer:
    """The MCP server over `service`. `tool_meta`: extra `_meta` per tool name (e.g. an MCP Apps UI link)."""

    @asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[VideoService]:
        # The CLI starts the service around the transport; in-process use may not have.
        if service.started:
            yield service
        else:
            async with service:
                yield service

    # The tools that produce or show a clip open the player in hosts with MCP Apps.
    tools = build_tools(service, {name: player_link() for name in PLAYER_TOOLS} | dict(tool_meta or {}))
    check = ArgumentCheck(
        {t.name: t.parameters for t in tools},
        size_hint=size_hint(service),
        max_wait=lambda: service.settings.max_wait_s,
    )
    mcp = MCPServer(
        name="sora-mcp",
        title="sora-mcp",
        version=__version__,
        instructions=INSTRUCTIONS.format(wait=f"{service.settings.max_wait_s:g}"),
        lifespan=lifespan,
        log_level="WARNING",
        tools=tools,
        # MCP Apps: the in-chat player and its app-only tools (see sora_mcp.server.apps).
        extensions=[build_apps(service)],
        middleware=[hide_app_tools, check],
    )
    register_resources(mcp, service)
    register_prompts(mcp)
    return mcp


def size_hint(service: VideoService) -> Callable[[Mapping[str, Any]], str]:
    """The sizes the requested model allows, and the one matching an aspect ratio the agent gave."""

    def hint(args: Mapping[str, Any]) -> str:
        model = str(args.get("model") or "sora-2")
        spec = service.catalog.get(model)
        sizes = spec.sizes if spec is not None else ["1280x720", "720x1280"]
        text = f"{model} allows {', '.join(sizes)}"
        ratio = str(args.get("aspect_ratio") or args.get("aspect") or args.get("ratio") or "")
        if ":" in ratio:
            w, _, h = ratio.partition(":")
            try:
                portrait = float(h) > float(w)
            except ValueError:
                return text
            match = [s for s in sizes if (int(s.split("x")[1]) > int(s.split("x")[0])) == portrait]
            if match:
                text += f'; for {ratio} pass size="{match[0]}"'
        return text

    return hint
