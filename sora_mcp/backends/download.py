"""Opening a job's bytes: the dialect's content route, or the `video_url` its completion named.

A variant the dialect cannot serve is refused before any request (the service derives it from
the MP4). A content request that fails, or a dialect without a content route, falls back to the
job's `video_url`, or says plainly why there is nothing to fetch yet.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sora_mcp.backends.content import ContentStream
from sora_mcp.backends.known import Known
from sora_mcp.backends.transport import Transport, segment
from sora_mcp.errors import NotFound, NotReady, SoraError, VariantUnavailable
from sora_mcp.models import RemoteVideo, Variant

Retrieve = Callable[[str], Awaitable[RemoteVideo]]


@asynccontextmanager
async def open_stream(
    transport: Transport, known: Known, retrieve: Retrieve, video_id: str, variant: Variant, offset: int
) -> AsyncIterator[ContentStream]:
    """Stream one variant's bytes (from `offset`), never buffering the body."""
    dialect = await known.resolve()
    if variant != "video" and not dialect.named_variants:
        raise VariantUnavailable(
            f"This backend ({dialect.label}) serves only the MP4, not the {variant}",
            fix="sora-mcp derives it locally from the downloaded MP4.",
        )
    headers = {"Range": f"bytes={offset}-"} if offset > 0 else {}
    url = known.video_urls.get(video_id) if variant == "video" else None
    response = None
    if url is None and not dialect.content_route:
        url = await video_url_for(retrieve, video_id, variant, None)
    elif url is None:
        try:
            response = await transport.send(
                "GET",
                f"/videos/{segment(video_id)}/content",
                operation="download",
                stream=True,
                headers=headers,
                params={"variant": variant} if variant != "video" else dict(dialect.content_params) or None,
            )
        except SoraError as exc:
            url = await video_url_for(retrieve, video_id, variant, exc)
    if url is not None:
        response = await transport.open_url(url, headers)
    assert response is not None
    try:
        stream = ContentStream(response, requested=variant, offset=offset)
        await stream.prime()
        yield stream
    finally:
        await response.aclose()


async def video_url_for(retrieve: Retrieve, video_id: str, variant: Variant, exc: SoraError | None) -> str:
    """A content request failed (or there is no content route): find the `video_url`, or say
    why there is nothing to fetch."""
    if exc is not None and exc.code not in ("not_found", "not_ready", "invalid_input", "unsupported"):
        raise exc
    video = await retrieve(video_id)  # raises NotFound itself when the id is unknown
    if video.status != "completed":
        failed = video.status in ("failed", "cancelled", "expired", "deleted")
        raise NotReady(
            f"Video {video_id} is {video.status}, so it has no {variant} to download",
            fix="Create a new clip." if failed else "Wait until its status is completed, then download.",
        ) from None
    if variant != "video":
        raise VariantUnavailable(
            f"The backend has no {variant} for {video_id}",
            fix="sora-mcp derives it locally from the MP4.",
        ) from None
    if video.video_url:
        return video.video_url
    raise exc or NotFound(
        f"The backend reports {video_id} completed but gives no URL to download it from",
        fix="Ask again in a moment; completed jobs list their video URL once it is stored.",
    )
