"""A streamed download body (`ContentStream`) and what its bytes really are.

Backends do not always serve what was asked for: LiteLLM answers a thumbnail request with the
MP4, some gateways label everything `application/octet-stream`. `sniff_mime` reads the magic
bytes of the first chunk and `ContentStream.served_variant` reports the variant the bytes are,
so the service can notice and derive the missing variant itself. The body is never buffered:
only the first few bytes are held back to sniff them, then re-yielded.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx2

from sora_mcp.models import Variant

# Enough for every signature below; a first network read is nearly always larger.
_SNIFF_BYTES = 16

_MIME_TO_VARIANT: dict[str, Variant] = {
    "video/mp4": "video",
    "video/quicktime": "video",
    "image/webp": "thumbnail",
    "image/jpeg": "spritesheet",
    "image/png": "thumbnail",
}


def sniff_mime(head: bytes) -> str | None:
    """The MIME type announced by a file's magic bytes, or None when unrecognised."""
    if len(head) >= 8 and head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:10] == b"qt" else "video/mp4"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    return None


def served_variant(
    head: bytes, content_type: str | None, *, requested: Variant, at_start: bool = True
) -> Variant | None:
    """Which variant a body is, judged by its bytes first and its Content-Type second.

    An image answer to an image request counts as that request (a PNG thumbnail is still a
    thumbnail); an MP4 answer to an image request is reported as `video`. None: unknown
    (for example an HTML error page served with status 200).
    """
    mime = sniff_mime(head) if at_start else None
    if mime is None:
        mime = (content_type or "").split(";", 1)[0].strip().lower() or None
    variant = _MIME_TO_VARIANT.get(mime or "")
    if variant is None and mime and mime.startswith("video/"):
        variant = "video"
    if variant in ("thumbnail", "spritesheet") and requested != "video":
        return requested
    return variant


def _parse_total(headers: httpx2.Headers, status_code: int) -> int | None:
    content_range = headers.get("content-range")
    if content_range:
        match = re.search(r"/(\d+)\s*$", content_range)
        return int(match.group(1)) if match else None
    length = headers.get("content-length")
    if status_code == 200 and length and length.isdigit():
        return int(length)
    return None


class ContentStream:
    """One HTTP response body being downloaded, with what the server said about it."""

    def __init__(self, response: httpx2.Response, *, requested: Variant, offset: int = 0) -> None:
        self.response = response
        self.status_code: int = response.status_code
        headers = response.headers
        self.content_type: str | None = headers.get("content-type")
        length = headers.get("content-length")
        self.content_length: int | None = int(length) if length and length.isdigit() else None
        self.total_size: int | None = _parse_total(headers, response.status_code)
        self.accepts_ranges: bool = (
            response.status_code == 206 or headers.get("accept-ranges", "").lower() == "bytes"
        )
        # A 200 answer to a Range request restarts at byte 0: the caller must truncate and rewrite.
        self.offset: int = offset if response.status_code == 206 else 0
        self.requested: Variant = requested
        self.served_variant: Variant | None = None
        self._pending: list[bytes] = []
        self._source: AsyncIterator[bytes] = response.aiter_bytes()
        self._exhausted = False

    async def prime(self) -> None:
        """Read just enough of the body to sniff it; the bytes are replayed by `aiter_bytes`."""
        head = b""
        while len(head) < _SNIFF_BYTES:
            try:
                piece = await self._source.__anext__()
            except StopAsyncIteration:
                self._exhausted = True
                break
            if piece:
                self._pending.append(piece)
                head += piece
        self.served_variant = served_variant(
            head, self.content_type, requested=self.requested, at_start=self.offset == 0
        )

    async def aiter_bytes(self, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        """Yield the body in chunks of at most `chunk_size` bytes as they arrive."""
        buffer = bytearray()
        for piece in self._pending:
            buffer += piece
        self._pending.clear()
        while len(buffer) >= chunk_size:
            yield bytes(buffer[:chunk_size])
            del buffer[:chunk_size]
        if not self._exhausted:
            try:
                async for piece in self._source:
                    buffer += piece
                    while len(buffer) >= chunk_size:
                        yield bytes(buffer[:chunk_size])
                        del buffer[:chunk_size]
            except Exception:
                # The connection dropped: hand over what did arrive, so a retry resumes after it
                # instead of losing up to chunk_size bytes (and restarting from 0 on small files).
                if buffer:
                    yield bytes(buffer)
                raise
        if buffer:
            yield bytes(buffer)
