"""Serves a rendered file: Starlette's `FileResponse` streams it (Range, 206, 416, HEAD), wrapped
to keep the engine's contract.

Never reads a whole file into memory. The wrapper keeps what FileResponse does differently:
an unsatisfiable range answers OpenAI's error envelope (416 with `Content-Range: bytes */size`),
and a malformed or multi-range `Range` is ignored (the whole file, as RFC 9110 allows) instead
of 400 or `multipart/byteranges`. The `drop_download_after_bytes` fault knob cuts the body
part-way: the response is left unfinished, so uvicorn closes the connection and the client sees
a truncated download, exactly like a network cut.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.responses import FileResponse
from starlette.types import Message, Receive, Scope, Send

from sora_mcp.engine.errors import ApiError


class _Cut(Exception):
    """Raised from the send wrapper to stop FileResponse once the fault's byte budget is spent."""


def _unsatisfiable(size: int) -> ApiError:
    return ApiError(
        416,
        f"The requested range is outside the file ({size} bytes). Ask for bytes 0-{max(size - 1, 0)}.",
        param="range",
        code="range_not_satisfiable",
        headers={"Content-Range": f"bytes */{size}"},
    )


def _without_range(scope: Scope) -> Scope:
    return {**scope, "headers": [(k, v) for k, v in scope["headers"] if k.lower() != b"range"]}


def _range_of(scope: Scope) -> bytes | None:
    return next((v for k, v in scope["headers"] if k.lower() == b"range"), None)


class FileStream:
    """An ASGI app answering with `path` (or the one byte range the request asks for)."""

    def __init__(self, path: Path, media_type: str, *, drop_after: int | None = None) -> None:
        self.path = path
        self.media_type = media_type
        self.drop_after = drop_after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        wanted = _range_of(scope)
        if wanted is not None and b"," in wanted:  # several ranges: answered with the whole file
            scope = _without_range(scope)
        try:
            if await self._serve(scope, receive, send) == 400:  # FileResponse found the range malformed
                await self._serve(_without_range(scope), receive, send)
        except _Cut:
            return  # the fault: the response stays unfinished and the connection is cut

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> int:
        """Run FileResponse once; its 416 becomes the engine's error and its 400 is not sent (the
        caller retries without the range). Returns the status FileResponse chose."""
        status = 0
        budget = self.drop_after

        async def wrapped(message: Message) -> None:
            nonlocal status, budget
            if message["type"] == "http.response.start":
                status = message["status"]
                if status == 416:
                    size = os.stat(self.path).st_size
                    await _unsatisfiable(size).response()(scope, receive, send)
            if status in (400, 416):
                return  # FileResponse's own plain-text answer is replaced
            if message["type"] == "http.response.body" and budget is not None:
                body: bytes = message.get("body", b"")
                if len(body) > budget:
                    if budget:
                        await send({"type": "http.response.body", "body": body[:budget], "more_body": True})
                    raise _Cut
                budget -= len(body)
            await send(message)

        await FileResponse(self.path, media_type=self.media_type)(scope, receive, wrapped)
        return status
