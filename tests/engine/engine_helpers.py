"""Small helpers for engine tests: an openai SDK client, waiting for jobs, raw HTTP calls."""

from __future__ import annotations

import http.client
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import openai
from openai.types import Video

from sora_mcp.engine import EngineServer

warnings.filterwarnings("ignore", category=DeprecationWarning)

# Ids an attacker would try: encoded dots, slashes and backslashes, NUL, near-misses of the real shape.
HOSTILE_IDS = (
    "%2e",
    "%2e%2e",
    ".",
    "..",
    "%2f",
    "..%5c",
    "%5c",
    "%2e%2e%2f",
    "%2e%2e%2f%2e%2e",
    "%2e%2e%2fengine.sqlite3",
    "%2e%2e%5cengine.sqlite3",
    "..%2f..%2f..%2ftmp",
    "%2E%2E",
    ".%2e",
    "%252e%252e",
    "videos",
    "video_",
    "video_%2e%2e",
    "%00",
    "%2e%00",
    "video_" + "0" * 31 + "%2f",
)


def sdk(server: EngineServer, api_key: str = "any-key") -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=server.base_url, api_key=api_key, max_retries=0, timeout=30)


def raw(server: EngineServer, api_key: str | None = "any-key") -> httpx2.AsyncClient:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    return httpx2.AsyncClient(base_url=server.base_url.removesuffix("/v1"), headers=headers, timeout=30)


async def wait_done(client: openai.AsyncOpenAI, video_id: str, timeout: float = 60) -> Video:
    """Poll until completed/failed, checking progress never goes backwards."""
    deadline = time.monotonic() + timeout
    last = -1
    while True:
        video = await client.videos.retrieve(video_id)
        assert video.progress >= last, f"progress went back from {last} to {video.progress}"
        last = video.progress
        if video.status in ("completed", "failed"):
            return video
        assert time.monotonic() < deadline, f"{video_id} still {video.status} after {timeout}s"
        await anyio.sleep(0.05)


async def create_done(client: openai.AsyncOpenAI, **kwargs: Any) -> Video:
    kwargs.setdefault("prompt", "A red kite over a green hill. Camera: slow push-in.")
    kwargs.setdefault("seconds", "4")
    video = await client.videos.create(**kwargs)
    return await wait_done(client, video.id)


@dataclass
class Answer:
    """One raw HTTP answer: status, headers (lower-case names) and body bytes."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def error(self) -> dict[str, Any]:
        return json.loads(self.body)["error"]


def exact(
    port: int,
    method: str,
    path: str,
    *,
    key: str | None = None,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 30,
) -> Answer:
    """One request sent as written, on a fresh connection: the path is not normalised (`%2e%2e`
    stays) and a given Host header replaces the real one. (httpx would resolve dot segments.)"""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    sent = {"Authorization": f"Bearer {key}"} if key else {}
    sent.update(headers or {})
    try:
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        conn.close()


def stream_until_answer(
    port: int,
    path: str,
    headers: dict[str, str],
    *,
    preamble: bytes = b"",
    chunk_mb: int = 1,
    max_mb: int = 200,
) -> tuple[int | None, int]:
    """POST a chunked body 1 MiB at a time until the server answers (or stops reading).

    Returns (status or None when the server cut the connection without an answer we could read,
    bytes sent when it did). A server that buffered the body first would read all `max_mb`.
    """
    chunk = b"{" + b" " * (chunk_mb * 2**20 - 1)
    chunks = [preamble + chunk] if preamble else [chunk]
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Transfer-Encoding: chunked"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        while sent < max_mb * 2**20:
            if select.select([sock], [], [], 0)[0]:
                break  # an answer (or the close) is already here
            body = chunks.pop() if chunks else chunk
            try:
                sock.sendall(f"{len(body):x}\r\n".encode() + body + b"\r\n")
            except OSError:
                break
            sent += len(body)
        try:
            select.select([sock], [], [], 30)
            head = sock.recv(65536)
        except OSError:
            return None, sent
    if not head.startswith(b"HTTP/1.1 "):
        return None, sent
    return int(head.split(b" ", 2)[1]), sent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SORA_MCP_", "SORA_ENGINE_", "OPENAI_"))}
    env.update(extra)
    return env


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class EngineCommand:
    """`python -m sora_mcp engine ARGS` on 127.0.0.1:<free port>, its stderr kept in a file."""

    def __init__(self, data_dir: Path, *args: str, **env: str) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.err = data_dir.parent / f"engine-{self.port}.stderr"
        with self.err.open("wb") as err:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "sora_mcp",
                    "engine",
                    "--port",
                    str(self.port),
                    "--data-dir",
                    str(data_dir),
                    *args,
                ],
                env=clean_env(**env),
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        deadline = time.monotonic() + 30
        while not listening(self.port):
            assert self.proc.poll() is None, self.err.read_text()
            assert time.monotonic() < deadline, "the engine did not start"
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: nothing of the engine's clean-up runs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=20)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.err.read_text()
