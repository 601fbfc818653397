"""The sora-mcp server under test: over stdio (the MCP Client spawns it) or Streamable HTTP (we spawn it).

Both run `python -m sora_mcp serve` against an engine in its own process, so the server's
latency, CPU and memory are measured apart from the engine's rendering and file serving.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from common import PYTHON, free_port, server_env, stop_process

PROMPT = "A red fox trots through a snowy birch forest at dawn"


class HttpServer:
    """`sora-mcp serve --transport http` on a free loopback port; Streamable HTTP at /mcp.

    `command` replaces the server (its port appended): the hello-world floor serves the same way."""

    def __init__(self, data_dir: Path, base_url: str | None, command: list[str] | None = None) -> None:
        self.port = free_port()
        self.log = (data_dir.parent / f"{data_dir.name}-http.log").open("wb")
        argv = (
            [*command, str(self.port)]
            if command
            else [PYTHON, "-m", "sora_mcp", "serve", "--transport", "http", "--port", str(self.port)]
        )
        self.proc = subprocess.Popen(
            argv,
            env=server_env(data_dir, base_url),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the HTTP server exited early; see {self.log.name}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.close()
        raise RuntimeError("the HTTP server did not start within 30 s")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def close(self) -> None:
        stop_process(self.proc)
        self.log.close()


def structured(result: Any) -> dict[str, Any]:
    """A tool result's structured content; a tool error becomes an exception naming the message."""
    if result.is_error or result.structured_content is None:
        text = " ".join(getattr(c, "text", "") for c in result.content)
        raise RuntimeError(f"tool call failed: {text[:300]}")
    return result.structured_content


async def create_job(client: Any, prompt: str = PROMPT, **args: Any) -> str:
    job = structured(
        await client.call_tool("create_video", {"prompt": prompt, "size": "1280x720", "seconds": "4", **args})
    )
    return str(job["id"])


AGENT_WAIT_S = 45  # the longest wait one tool call may ask for by default (SORA_MCP_MAX_WAIT_S)


async def wait_done(client: Any, video_ids: list[str], wait_s: float = 240) -> dict[str, Any]:
    """As an agent polls: get_status with the same wait (at most AGENT_WAIT_S) until all_done, for up to wait_s."""
    deadline = time.monotonic() + wait_s
    while True:
        chunk = max(1.0, min(AGENT_WAIT_S, deadline - time.monotonic()))
        status = structured(
            await client.call_tool("get_status", {"video_ids": video_ids, "wait_seconds": chunk})
        )
        if status["all_done"]:
            return status
        if time.monotonic() >= deadline:
            raise RuntimeError(f"jobs not done after {wait_s} s: {[j['status'] for j in status['jobs']]}")
