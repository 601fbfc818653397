"""Fixtures for the library tests: a data dir whose temp folder must end empty, and a tiny HTTP file server.

The file server is a raw asyncio socket server on 127.0.0.1 (in its own thread) so a test can
drop the connection at an exact byte, refuse Range requests, or stall mid-body.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest

from sora_mcp.library.tempfiles import PREFIX


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    (d / "tmp").mkdir(parents=True)
    return d


@pytest.fixture(autouse=True)
def _no_temp_files_left(tmp_path: Path) -> Iterator[None]:
    yield
    leftovers = [p.relative_to(tmp_path) for p in tmp_path.rglob(f"{PREFIX}*")]
    tmp = tmp_path / "data" / "tmp"
    if tmp.is_dir():
        leftovers += [p.relative_to(tmp_path) for p in tmp.iterdir()]
    assert not leftovers, f"temp files left behind: {leftovers}"


@dataclass
class FileServer:
    """Serves `data` at any path. Knobs: Range support, cutting the body at an absolute byte, stalling."""

    data: bytes
    ranges: bool = True
    drop_at: int | None = None
    drops: int = 1  # how many responses are cut; -1: all of them
    stall_at: int | None = None
    wrong_range: bool = False  # answer a Range request with 206 but the bytes from 0
    requests: list[str | None] = field(default_factory=list)  # the Range header of each request
    port: int = 0

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/video.mp4"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def main() -> None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
            self.port = self._server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._server.serve_forever()

        with suppress(asyncio.CancelledError, RuntimeError):
            self._loop.run_until_complete(main())

    def start(self) -> FileServer:
        self._thread.start()
        assert self._ready.wait(5)
        return self

    def stop(self) -> None:
        def _close() -> None:
            self._server.close()
            for task in asyncio.all_tasks(self._loop):
                task.cancel()

        self._loop.call_soon_threadsafe(_close)
        self._thread.join(5)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (ln.partition(":") for ln in head.split("\r\n")[1:])
                    if k
                }
                rng = headers.get("range")
                self.requests.append(rng)
                start = int(rng.split("=")[1].split("-")[0]) if (rng and self.ranges) else 0
                partial = bool(start)
                if self.wrong_range:
                    start = 0
                body = self.data[start:]
                lines = [
                    "HTTP/1.1 206 Partial Content" if partial else "HTTP/1.1 200 OK",
                    f"Content-Length: {len(body)}",
                    "Content-Type: video/mp4",
                ]
                if self.ranges:
                    lines.append("Accept-Ranges: bytes")
                if partial:
                    lines.append(f"Content-Range: bytes {start}-{len(self.data) - 1}/{len(self.data)}")
                writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
                cut = None
                if self.drop_at is not None and self.drops != 0:
                    cut = max(0, self.drop_at - start)
                    self.drops -= 1 if self.drops > 0 else 0
                sent = 0
                while sent < len(body):
                    if cut is not None and sent >= cut:
                        await writer.drain()
                        writer.transport.abort()  # a dropped connection, mid-body
                        return
                    if self.stall_at is not None and start + sent >= self.stall_at:
                        await writer.drain()
                        await asyncio.sleep(60)
                    piece = body[sent : sent + (1 << 16) if cut is None else min(sent + (1 << 16), cut)]
                    writer.write(piece)
                    sent += len(piece)
                    await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            writer.close()


@pytest.fixture
def file_server() -> Iterator[Any]:
    servers: list[FileServer] = []

    def make(data: bytes, **knobs: Any) -> FileServer:
        server = FileServer(data, **knobs).start()
        servers.append(server)
        return server

    yield make
    for s in servers:
        s.stop()


class HttpStream:
    """The backend layer's `ContentStream` shape, over an httpx2 response."""

    def __init__(self, response: httpx2.Response) -> None:
        h = response.headers
        self.status_code = response.status_code
        self.content_type = h.get("content-type")
        self.content_length = int(h["content-length"]) if "content-length" in h else None
        crange = h.get("content-range")
        if crange and "/" in crange and not crange.endswith("*"):
            self.total_size: int | None = int(crange.rsplit("/", 1)[1])
        else:
            self.total_size = self.content_length if response.status_code == 200 else None
        self.accepts_ranges = h.get("accept-ranges", "").lower() == "bytes"
        self.served_variant = "video"
        self._response = response

    def aiter_bytes(self, chunk_size: int) -> AsyncIterator[bytes]:
        return self._response.aiter_bytes(chunk_size)


def make_opener(client: httpx2.AsyncClient, url: str) -> Any:
    @asynccontextmanager
    async def opener(offset: int) -> AsyncIterator[HttpStream]:
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        async with client.stream("GET", url, headers=headers) as response:
            yield HttpStream(response)

    return opener


@pytest.fixture
async def http() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
def opener_for(http: httpx2.AsyncClient) -> Any:
    """`opener_for(url)` -> an opener as `download` expects it."""
    return lambda url: make_opener(http, url)
