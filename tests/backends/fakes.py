"""Small stand-ins for other vendors' `/v1/videos` servers: uvicorn on 127.0.0.1, or in-process (mock.py).

`FakeVideos` holds the shared part (an in-memory job store, a request log, a Range-aware
streamed MP4); each dialect in `tests/dialects/fake_dialects.py` overrides only what its
real server does differently, as read from that project's source. A job advances one step
(queued → running → done) each time it is retrieved, so journeys are fast and deterministic.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Self

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

# An MP4 file head (ftyp box) followed by filler: enough for magic-byte sniffing and Ranges.
MP4_HEAD = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41"


_PATTERN = bytes(range(251))


def content_slice(start: int, end: int) -> bytes:
    """Bytes [start, end) of every fake's MP4: the ftyp head, then byte i = i % 251."""
    n = end - start
    body = (_PATTERN * (n // 251 + 2))[start % 251 : start % 251 + n]
    if start < len(MP4_HEAD):
        head = MP4_HEAD[start:end]
        body = head + body[len(head) :]
    return body


def mp4_bytes(size: int) -> bytes:
    return content_slice(0, size)


def real_mp4(width: int = 160, height: int = 96, frames: int = 24, fps: int = 24) -> bytes:
    """A small, decodable H.264 MP4 (a moving gradient), for journeys that derive stills from it."""
    import io

    import av
    import numpy as np

    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        ramp = np.linspace(0, 255, width, dtype=np.uint8)
        for i in range(frames):
            rgb = np.zeros((height, width, 3), np.uint8)
            rgb[..., 0] = np.roll(ramp, i * 4)[None, :]
            rgb[..., 2] = 255 - rgb[..., 0]
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode(None))
    return out.getvalue()


class FakeVideos:
    """The shared fake: subclasses override the `render_*`/`parse_*` hooks and routes."""

    steps = ("queued", "in_progress", "completed")
    content_size = 64 * 1024
    ranges = True
    origin = ""  # http://127.0.0.1:PORT, set by FakeServer

    def __init__(self, *, api_key: str | None = None) -> None:
        self.api_key = api_key
        self.jobs: dict[str, dict[str, Any]] = {}
        self.log: list[tuple[str, str, dict[str, str]]] = []  # (method, raw path, headers)
        self.seen: list[tuple[str, str]] = []  # (method, path) of every request, routed or not
        self.bodies: list[dict[str, Any]] = []  # parsed create/remix bodies
        # A real, decodable MP4 to serve instead of the patterned filler (journeys that derive
        # thumbnails from it need one); `content_size` follows it.
        self.mp4: bytes | None = None

    def use_mp4(self, data: bytes) -> None:
        self.mp4 = data
        self.content_size = len(data)

    # -- hooks ------------------------------------------------------------------------------
    def new_id(self) -> str:
        return f"video_{uuid.uuid4().hex}"

    def render(self, job: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": job["id"],
            "object": "video",
            "status": job["status"],
            "progress": job["progress"],
            "model": job["model"],
            "prompt": job["prompt"],
            "size": job["size"],
            "seconds": str(job["seconds"]),
            "created_at": job["created_at"],
            "remixed_from_video_id": job.get("remixed_from"),
        }

    async def parse_create(self, request: Request) -> dict[str, Any] | Response:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("multipart/"):
            form = await request.form()
            return {k: (v if isinstance(v, str) else {"upload": v.filename}) for k, v in form.multi_items()}
        return await request.json()

    def content_response(self, job: dict[str, Any], request: Request) -> Response:
        return self.stream_mp4(request, self.content_size)

    def headers(self) -> dict[str, str]:
        return {}

    # -- shared machinery -------------------------------------------------------------------
    def error(self, status: int, message: str, **headers: str) -> JSONResponse:
        return JSONResponse(
            {"error": {"message": message, "type": "invalid_request_error"}},
            status,
            headers={**self.headers(), **headers},
        )

    def ok(self, body: Any, status: int = 200) -> JSONResponse:
        return JSONResponse(body, status, headers=self.headers())

    def gate(self, request: Request) -> Response | None:
        """Log the request; answer a wrong key before the handler runs."""
        self.log.append((request.method, request.scope.get("raw_path", b"").decode(), dict(request.headers)))
        if self.api_key is not None:
            sent = request.headers.get("authorization", "").removeprefix("Bearer ")
            if sent != self.api_key:
                # Like OpenAI, echo the key back: the client must scrub it.
                return self.error(401, f"Incorrect API key provided: {sent}.")
        return None

    def add_job(self, fields: dict[str, Any], **more: Any) -> dict[str, Any]:
        job = {
            "id": self.new_id(),
            "status": self.steps[0],
            "progress": 0,
            "step": 0,
            "model": fields.get("model") or "fake-model",
            "prompt": fields.get("prompt", ""),
            "size": fields.get("size") or "1280x720",
            "seconds": fields.get("seconds") or 4,
            "created_at": int(time.time()),
            "fields": fields,
            **more,
        }
        self.jobs[job["id"]] = job
        return job

    def advance(self, job: dict[str, Any]) -> None:
        if job["step"] < len(self.steps) - 1 and job["status"] in self.steps:
            job["step"] += 1
            job["status"] = self.steps[job["step"]]
            job["progress"] = 100 if job["step"] == len(self.steps) - 1 else 50

    def stream_mp4(self, request: Request, size: int) -> Response:
        start = 0
        status, headers = 200, {"accept-ranges": "bytes"} if self.ranges else {}
        spec = request.headers.get("range", "")
        if self.ranges and spec.startswith("bytes=") and spec[6:].rstrip("-").isdigit():
            start = int(spec[6:].rstrip("-"))
            status = 206
            headers["content-range"] = f"bytes {start}-{size - 1}/{size}"
        headers["content-length"] = str(size - start)

        real = self.mp4

        async def body() -> AsyncIterator[bytes]:
            # 64 KiB at a time: nothing the size of the file is ever held.
            for pos in range(start, size, 1 << 16):
                end = min(size, pos + (1 << 16))
                yield real[pos:end] if real is not None else content_slice(pos, end)

        return StreamingResponse(
            body(), status, headers={**self.headers(), **headers}, media_type="video/mp4"
        )

    def find(self, request: Request) -> dict[str, Any] | None:
        return self.jobs.get(request.path_params["video_id"])

    # -- routes -----------------------------------------------------------------------------
    async def create(self, request: Request) -> Response:
        if (blocked := self.gate(request)) is not None:
            return blocked
        fields = await self.parse_create(request)
        if isinstance(fields, Response):
            return fields
        self.bodies.append(fields)
        job = self.add_job(fields)
        return self.ok(self.render(job))

    async def retrieve(self, request: Request) -> Response:
        if (blocked := self.gate(request)) is not None:
            return blocked
        job = self.find(request)
        if job is None:
            return self.error(404, "Video not found")
        self.advance(job)
        return self.ok(self.render(job))

    async def list(self, request: Request) -> Response:
        if (blocked := self.gate(request)) is not None:
            return blocked
        data = [self.render(j) for j in reversed(self.jobs.values())]
        return self.ok(
            {
                "object": "list",
                "data": data,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
                "has_more": False,
            }
        )

    async def delete(self, request: Request) -> Response:
        if (blocked := self.gate(request)) is not None:
            return blocked
        job = self.jobs.pop(request.path_params["video_id"], None)
        if job is None:
            return self.error(404, "Video not found")
        return self.ok({"id": job["id"], "object": "video.deleted", "deleted": True})

    async def content(self, request: Request) -> Response:
        if (blocked := self.gate(request)) is not None:
            return blocked
        job = self.find(request)
        if job is None:
            return self.error(404, "Video not found")
        if job["status"] != self.steps[-1]:
            return self.error(404, "Generation is still in-progress")
        return self.content_response(job, request)

    async def models(self, request: Request) -> Response:
        if (blocked := self.gate(request)) is not None:
            return blocked
        return self.ok(
            {"object": "list", "data": [{"id": "fake-model", "object": "model", "owned_by": "fake"}]}
        )

    def routes(self) -> list[Route]:
        return [
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/v1/videos", self.create, methods=["POST"]),
            Route("/v1/videos", self.list, methods=["GET"]),
            Route("/v1/videos/{video_id}", self.retrieve, methods=["GET"]),
            Route("/v1/videos/{video_id}", self.delete, methods=["DELETE"]),
            Route("/v1/videos/{video_id}/content", self.content, methods=["GET"]),
        ]

    def app(self) -> ASGIApp:
        """The fake's routes, with every request recorded in `seen` (even one no route answers)."""
        inner = Starlette(routes=self.routes())

        async def recorded(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                self.seen.append((scope["method"], scope["path"]))
            await inner(scope, receive, send)

        return recorded


class FakeServer:
    """Serve a fake on 127.0.0.1 (ephemeral port) from a background thread."""

    def __init__(self, fake: FakeVideos) -> None:
        self.fake = fake
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.base_url = f"{self.origin}/v1"
        fake.origin = self.origin
        config = uvicorn.Config(fake.app(), log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()
