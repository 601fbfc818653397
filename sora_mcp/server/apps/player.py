"""The player's `ui://` resource, its app-only data tools, and the tools/list filter.

The view gets everything through three app-only tools, so it never depends on the text of the
model-facing tools' results: `player_clip` (one job: fields, progress, poster, what is archived),
`player_chunk` (a byte range of an archived file, base64, at most ~2 MB) and `player_library`
(the gallery: jobs with small inline thumbnails, filtered by text/status). They go through the
same server, transport auth and service checks as every other tool; `player_chunk` reads only
files the ledger lists inside the library (`service.media`).
"""

from __future__ import annotations

import base64
import io
from importlib import resources
from typing import Annotated, Any

import anyio
from mcp.server.apps import Apps, ResourceCsp, Visibility, client_supports_apps
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.types import CallToolResult, ListToolsResult, TextContent, ToolAnnotations
from pydantic import Field

from sora_mcp.errors import NotFound, SoraError
from sora_mcp.models import Job
from sora_mcp.service import VideoService
from sora_mcp.service.media import MAX_CHUNK, LibraryFile, read_small, sprite_grid

PLAYER_URI = "ui://sora-mcp/player.html"
INLINE_IMAGE_MAX = 256 * 1024  # posters and gallery thumbnails travel inline up to this size
GALLERY_INLINE_BUDGET = 2 * 1024 * 1024  # thumbnail bytes inlined in one gallery page, at most
APP_ONLY: list[Visibility] = ["app"]
_READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True)


def player_link() -> dict[str, Any]:
    """The `_meta` that links a model-facing tool's results to the player."""
    return {"ui": {"resourceUri": PLAYER_URI}}


def player_html() -> str:
    return resources.files("sora_mcp").joinpath("content", "player.html").read_text(encoding="utf-8")


def _result(summary: str, data: dict[str, Any]) -> CallToolResult:
    # structuredContent only, no outputSchema: the data is for the view, and a JSON copy in the
    # text content would double every chunk on the wire.
    return CallToolResult(content=[TextContent(type="text", text=summary)], structured_content=data)


def _data_url(file: LibraryFile) -> str | None:
    if file.size > INLINE_IMAGE_MAX:
        return None
    return f"data:{file.mime_type};base64,{base64.b64encode(read_small(file)).decode()}"


def _file(service: VideoService, video_id: str, variant: str) -> LibraryFile | None:
    try:
        return service.library_file(video_id, variant)
    except NotFound:
        return None


def _dims(size: str | None) -> tuple[int, int]:
    try:
        w, h = (size or "").lower().split("x")
        return int(w), int(h)
    except ValueError:
        return 0, 0


def _sheet(service: VideoService, job: Job) -> dict[str, Any] | None:
    sheet = _file(service, job.id, "spritesheet")
    if sheet is None:
        return None
    from PIL import Image  # lazy: only the header is read, for the grid's size

    try:
        with Image.open(sheet.path if sheet.store is None else io.BytesIO(read_small(sheet))) as im:
            width, height = im.size
    except (OSError, SoraError):
        return None
    cols, rows = sprite_grid(width, height, *_dims(job.size))
    return {"bytes": sheet.size, "width": width, "height": height, "cols": cols, "rows": rows}


def clip_info(service: VideoService, job: Job) -> dict[str, Any]:
    video = _file(service, job.id, "video")
    thumb = _file(service, job.id, "thumbnail")
    return {
        "id": job.id,
        "status": job.status,
        "progress": job.progress,
        "prompt": job.prompt,
        "model": job.model,
        "size": job.size,
        "seconds": job.seconds,
        "created_at": job.created_at,
        "cost_usd": job.quote.usd if job.quote else None,
        "error": job.error.message if job.error else None,
        "remixed_from": job.remixed_from_video_id,
        "extended_from": job.extended_from_video_id,
        "video_bytes": video.size if video else None,
        "thumbnail": _data_url(thumb) if thumb else None,
        "thumbnail_bytes": thumb.size if thumb else None,
        "spritesheet": _sheet(service, job),
        "chunk_max": MAX_CHUNK,
    }


def gallery_items(service: VideoService, jobs: list[Job]) -> list[dict[str, Any]]:
    """One card per job; thumbnails inline while the page stays within GALLERY_INLINE_BUDGET."""
    items, budget = [], GALLERY_INLINE_BUDGET
    for job in jobs:
        thumb = _file(service, job.id, "thumbnail")
        url = _data_url(thumb) if thumb is not None and thumb.size <= budget else None
        budget -= thumb.size if url and thumb else 0
        prompt = job.prompt or ""
        items.append(
            {
                "id": job.id,
                "status": job.status,
                "progress": job.progress,
                "model": job.model,
                "size": job.size,
                "seconds": job.seconds,
                "created_at": job.created_at,
                "prompt": prompt if len(prompt) <= 240 else prompt[:239] + "…",
                "thumbnail": url,
            }
        )
    return items


def build_apps(service: VideoService) -> Apps:
    """The Apps extension: the player resource plus its app-only tools."""
    apps = Apps()
    apps.add_html_resource(
        PLAYER_URI,
        player_html(),
        name="player",
        title="sora-mcp player",
        description="Plays, scrubs, remixes and browses generated clips.",
        # Nothing external: every byte comes through tools/call, so the host's strictest CSP fits.
        csp=ResourceCsp(),
        prefers_border=True,
    )

    @apps.tool(resource_uri=PLAYER_URI, visibility=APP_ONLY, annotations=_READ_ONLY)
    async def player_clip(video_id: str) -> CallToolResult:
        """Player data for one job."""
        job, _ = await service.refresh(video_id, archive="later")
        # Small file reads (poster, sheet header), kept off the event loop all the same.
        info = await anyio.to_thread.run_sync(clip_info, service, job)
        return _result(f"{job.id}: {job.status} {job.progress}%", info)

    @apps.tool(resource_uri=PLAYER_URI, visibility=APP_ONLY, annotations=_READ_ONLY)
    async def player_chunk(
        video_id: str,
        variant: str = "video",
        offset: int = 0,
        length: Annotated[int, Field(description=f"Bytes, at most {MAX_CHUNK}.")] = MAX_CHUNK,
    ) -> CallToolResult:
        """A byte range of an archived file, base64."""
        data, total = await service.read_chunk(video_id, variant, offset, length)
        end = offset + len(data)
        return _result(
            f"bytes {offset}-{end} of {total}",
            {
                "offset": offset,
                "length": len(data),
                "total": total,
                "eof": end >= total,
                "data": base64.b64encode(data).decode(),
            },
        )

    @apps.tool(resource_uri=PLAYER_URI, visibility=APP_ONLY, annotations=_READ_ONLY)
    async def player_library(
        text: str | None = None,
        status: str | None = None,
        after: str | None = None,
        limit: Annotated[int, Field(ge=1, le=48)] = 24,
    ) -> CallToolResult:
        """Gallery page: jobs with thumbnails."""
        page = await service.list_jobs(limit=limit, after=after, text=text or None, status=status or None)
        items = await anyio.to_thread.run_sync(gallery_items, service, page.data)
        return _result(f"{len(items)} videos", {"items": items, "next_after": page.next_after})

    return apps


def _app_only(tool: Any) -> bool:
    meta = tool.get("_meta") if isinstance(tool, dict) else getattr(tool, "meta", None)
    ui = meta.get("ui") if isinstance(meta, dict) else None
    return isinstance(ui, dict) and ui.get("visibility") == APP_ONLY


async def hide_app_tools(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Leave the app-only tools out of tools/list for clients that did not negotiate MCP Apps.

    Hosts with Apps keep `visibility: ["app"]` tools from the model themselves (ext-apps spec);
    a client without Apps would show them to its model, so it never sees them at all. (The
    chain hands middleware the wire form of the result: a dict.)
    """
    result = await call_next(ctx)
    if ctx.method != "tools/list" or client_supports_apps(ctx):
        return result
    if isinstance(result, dict) and isinstance(result.get("tools"), list):
        return {**result, "tools": [t for t in result["tools"] if not _app_only(t)]}
    if isinstance(result, ListToolsResult):
        return result.model_copy(update={"tools": [t for t in result.tools if not _app_only(t)]})
    return result
