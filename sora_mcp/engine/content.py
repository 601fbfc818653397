"""Streams a rendered file from disk in chunks, honouring a single `Range` (206 / 416).

Never reads a whole file into memory. The `drop_download_after_bytes` fault knob stops
the body part-way: the app returns without finishing, so uvicorn closes the connection and
the client sees a truncated download, exactly like a network cut.
"""

from __future__ import annotations

import os
from pathlib import Path

import anyio
from starlette.types import Receive, Scope, Send

from sora_mcp.engine.errors import ApiError

CHUNK = 64 * 1024


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """`(start, end_exclusive)` for one satisfiable byte range; None = serve the whole file.

    Raises ApiError(416) when the range starts past the end. Malformed or multi-range
    headers are ignored (RFC 9110 allows answering those with the full representation).
    """
    if not header or not header.strip().lower().startswith("bytes="):
        return None
    spec = header.strip()[6:].strip()
    if "," in spec or "-" not in spec:
        return None
    first, last = (part.strip() for part in spec.split("-", 1))
    try:
        if first == "":
            length = int(last)
            if length <= 0:
                raise _unsatisfiable(size)
            return max(0, size - length), size
        start = int(first)
        end = size if last == "" else min(int(last) + 1, size)
    except ValueError:
        return None
    if start >= size or end <= start:
        raise _unsatisfiable(size)
    return start, end


def _unsatisfiable(size: int) -> ApiError:
    return ApiError(
        416,
        f"The requested range is outside the file ({size} bytes). Ask for bytes 0-{max(size - 1, 0)}.",
        param="range",
        code="range_not_satisfiable",
        headers={"Content-Range": f"bytes */{size}"},
    )


class FileStream:
    """An ASGI response streaming `path` (optionally one range of it)."""

    def __init__(
        self,
        path: Path,
        media_type: str,
        *,
        range_header: str | None,
        drop_after: int | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        self.path = path
        self.size = os.stat(path).st_size
        self.span = parse_range(range_header, self.size)
        self.media_type = media_type
        self.drop_after = drop_after
        self.extra_headers = extra_headers or {}

    @property
    def status_code(self) -> int:
        return 206 if self.span else 200

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start, end = self.span or (0, self.size)
        headers = {
            "content-type": self.media_type,
            "content-length": str(end - start),
            "accept-ranges": "bytes",
            **self.extra_headers,
        }
        if self.span:
            headers["content-range"] = f"bytes {start}-{end - 1}/{self.size}"
        await send(
            {
                "type": "http.response.start",
                "status": self.status_code,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
            }
        )
        if scope.get("method") == "HEAD":
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        budget = self.drop_after
        async with await anyio.open_file(self.path, "rb") as handle:
            await handle.seek(start)
            remaining = end - start
            while remaining > 0:
                chunk = await handle.read(min(CHUNK, remaining))
                if not chunk:
                    break
                if budget is not None and len(chunk) > budget:
                    if budget:
                        await send({"type": "http.response.body", "body": chunk[:budget], "more_body": True})
                    return  # the fault: leave the response unfinished so the connection is cut
                if budget is not None:
                    budget -= len(chunk)
                remaining -= len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": remaining > 0})
        if remaining > 0:  # the file shrank under us; end the body rather than hang
            await send({"type": "http.response.body", "body": b"", "more_body": False})
