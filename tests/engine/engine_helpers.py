"""Small helpers for engine tests: an openai SDK client, waiting for jobs, raw HTTP calls."""

from __future__ import annotations

import time
import warnings
from typing import Any

import anyio
import httpx2
import openai
from openai.types import Video

from sora_mcp.engine import EngineServer

warnings.filterwarnings("ignore", category=DeprecationWarning)


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
