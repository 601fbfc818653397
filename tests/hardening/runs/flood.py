"""Floods against `sora-mcp serve --transport http|sse` over loopback, and the legitimate journey beside them.

Shared by tests/hardening/test_http_limits.py and the long run's "HTTP floods" section
(flood_run.py). Everything is bounded in count and time; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "flood", "version": "1"},
    },
}
HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process in MB, from /proc (VmRSS, VmHWM)."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = dict(line.split(":", 1) for line in lines if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def closed_within(sock: socket.socket, limit_s: float) -> float | None:
    """Seconds until the server closed `sock` (reading EOF or a reset), or None if still open at `limit_s`."""
    t0 = time.monotonic()
    poller = select.poll()  # not select(): descriptors past 1024 are common here
    poller.register(sock, select.POLLIN)
    while (left := limit_s - (time.monotonic() - t0)) > 0:
        if poller.poll(left * 1000):
            try:
                if sock.recv(65536) == b"":
                    return time.monotonic() - t0
            except OSError:
                return time.monotonic() - t0
    return None


class IdleHorde:
    """Keeps `n` connections open to the port that never send a byte, reopening those the server closes."""

    def __init__(self, port: int, n: int) -> None:
        self.port, self.n = port, n
        self.socks: list[socket.socket] = []
        self.opened = self.closed_by_server = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Self:
        self._top_up()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        for s in self.socks:
            s.close()

    def _top_up(self, at_most: int | None = None) -> None:
        budget = self.n if at_most is None else at_most
        while len(self.socks) < self.n and budget > 0 and not self._stop.is_set():
            budget -= 1
            s = socket.socket()
            s.settimeout(2)
            try:
                s.connect(("127.0.0.1", self.port))
            except OSError:
                s.close()
                return
            self.socks.append(s)
            self.opened += 1

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            poller = select.poll()
            by_fd = {s.fileno(): s for s in self.socks}
            for fd in by_fd:
                poller.register(fd, select.POLLIN)
            for fd, _ in poller.poll(0):
                s = by_fd[fd]
                try:
                    gone = s.recv(1) == b""
                except OSError:
                    gone = True
                if gone:
                    self.socks.remove(s)
                    s.close()
                    self.closed_by_server += 1
            self._top_up(at_most=50)  # reopening is throttled: 250 connections a second at most


@dataclass
class FloodReport:
    sent: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        return (
            f"{self.sent} initialize POSTs in {self.seconds:.0f} s "
            f"(statuses {dict(sorted(self.statuses.items()))}, {self.errors} transport errors)"
        )


async def initialize_flood(
    url: str,
    n: int,
    *,
    limit_s: float = 60,
    workers: int = 8,
    token: str | None = None,
    report: FloodReport | None = None,
) -> FloodReport:
    """`n` legacy `initialize` POSTs over a few keep-alive HTTP/1.1 connections, each answer read whole."""
    report = report or FloodReport()
    headers = HEADERS | ({"Authorization": f"Bearer {token}"} if token else {})
    body = json.dumps(INIT).encode()
    t0 = time.monotonic()
    limits = httpx2.Limits(max_connections=workers, max_keepalive_connections=workers)

    async def worker(http: httpx2.AsyncClient) -> None:
        while report.sent < n and time.monotonic() - t0 < limit_s:
            report.sent += 1
            try:
                resp = await http.post(url, content=body, headers=headers)
                report.statuses[resp.status_code] = report.statuses.get(resp.status_code, 0) + 1
            except httpx2.HTTPError:
                report.errors += 1

    async with httpx2.AsyncClient(limits=limits, timeout=30) as http, anyio.create_task_group() as tg:
        for _ in range(workers):
            tg.start_soon(worker, http)
    report.seconds = time.monotonic() - t0
    return report


def client(url: str, token: str | None, mode: str) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return Client(streamable_http_client(url, http_client=create_mcp_http_client(headers=headers)), mode=mode)


async def journey(url: str, token: str | None, mode: str, data_dir: Path, limit_s: float = 120) -> str:
    """create → get_status until done → download_asset through the official Client; the file's path."""
    with anyio.fail_after(limit_s):
        async with client(url, token, mode) as c:
            created = await c.call_tool(
                "create_video", {"prompt": f"A lantern in fog ({mode})", "size": "720x1280"}
            )
            assert not created.is_error, created.content
            vid = created.structured_content["id"]
            while True:
                got = await c.call_tool("get_status", {"video_id": vid})
                assert not got.is_error, got.content
                status = got.structured_content["jobs"][0]["status"]
                if status not in ("queued", "in_progress"):
                    break
                await anyio.sleep(0.25)
            assert status == "completed", status
            asset = await c.call_tool("download_asset", {"video_id": vid})
            assert not asset.is_error, asset.content
            path = Path(asset.structured_content["path"])
            assert path.is_file() and path.resolve().is_relative_to(data_dir.resolve()), path
            return str(path)


async def quick_call(url: str, token: str | None, mode: str, limit_s: float = 30) -> None:
    """A connect + list_videos through the official Client: the cheapest proof a client gets in."""
    with anyio.fail_after(limit_s):
        async with client(url, token, mode) as c:
            listed = await c.call_tool("list_videos", {"limit": 1})
            assert not listed.is_error, listed.content


def open_stream(port: int, path: str = "/sse", token: str | None = None) -> tuple[int, bytes, socket.socket]:
    """A raw GET of an event stream; (status, what was read, the socket: left open, the stream stays held)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    s.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n{auth}\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1024)
        if not chunk:
            break
        head += chunk
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0
    if status != 200 and b"content-length: " in head.lower():  # a refusal: read its whole body
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        while len(head.split(b"\r\n\r\n", 1)[1]) < length and (chunk := s.recv(4096)):
            head += chunk
    return status, head, s
