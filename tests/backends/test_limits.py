"""The transport limits hold whatever carries the bytes: with an injected transport (an
`httpx2.MockTransport` handler standing in for a hostile server) the whole-request deadline, the
answer cap (decoded bytes, gzip included) and the origin rule for redirects still apply.
The same limits over real sockets, through the MCP client, are in tests/bounds/."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import AsyncIterator

import anyio
import httpx2
import pytest

from sora_mcp.errors import BackendError, BackendUnavailable

from .mock import BASE_URL, SECRET_KEY, mock_backend

pytestmark = pytest.mark.anyio
MB = 1024 * 1024


def job(video_id: str = "video_1", **more: object) -> dict[str, object]:
    return {"id": video_id, "object": "video", "status": "queued", "progress": 0, **more}


async def test_a_json_answer_past_the_cap_is_refused() -> None:
    padding = "x" * (17 * MB)  # past the default 16 MB cap

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json=job(note=padding))

    backend = mock_backend(handler, dialect="generic")
    with pytest.raises(BackendError, match=r"larger than 16 MB, so sora-mcp stopped reading it"):
        await backend.retrieve("video_1")
    await backend.aclose()


async def test_the_cap_counts_decoded_bytes_of_a_gzip_answer() -> None:
    bomb = gzip.compress(json.dumps(job(note=" " * (40 * MB))).encode())  # ~40 KB on the wire

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=bomb, headers={"content-encoding": "gzip"})

    backend = mock_backend(handler, dialect="generic", max_answer_mb=1)
    with pytest.raises(BackendError, match=r"larger than 1 MB"):
        await backend.retrieve("video_1")
    await backend.aclose()


async def test_a_dripping_answer_ends_at_the_deadline() -> None:
    """A byte every 0.2 s never trips a per-read timeout; the whole-request deadline ends it."""

    async def drip() -> AsyncIterator[bytes]:
        yield b'{"id": "video_1", "note": "'
        while True:
            await anyio.sleep(0.2)
            yield b"x"

    backend = mock_backend(lambda request: httpx2.Response(200, content=drip()), request_timeout_s=1.0)
    started = time.monotonic()
    with anyio.fail_after(30), pytest.raises(BackendUnavailable, match=r"did not answer retrieve within 1 s"):
        await backend.retrieve("video_1")
    assert time.monotonic() - started < 10  # the deadline, not the endless drip, ended it
    await backend.aclose()


async def test_a_post_redirected_to_another_origin_is_refused_before_it_leaves() -> None:
    seen: list[tuple[str, str]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append((request.method, str(request.url)))
        return httpx2.Response(307, headers={"location": "https://elsewhere.example/collect"})

    backend = mock_backend(handler, dialect="generic")
    with pytest.raises(
        BackendError, match=r"redirected the request to another origin \(elsewhere.example:443\)"
    ):
        await backend.create("a secret prompt", None, None, None)
    assert seen == [("POST", f"{BASE_URL}/videos")]  # nothing reached elsewhere.example
    await backend.aclose()


async def test_a_get_redirected_to_another_origin_carries_no_key() -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        if request.url.host == "videos.example":
            return httpx2.Response(302, headers={"location": "https://cdn.example/jobs/video_1.json"})
        return httpx2.Response(200, json=job(status="completed"))

    backend = mock_backend(handler, dialect="generic")
    video = await backend.retrieve("video_1")
    assert video.status == "completed"
    assert [r.url.host for r in seen] == ["videos.example", "cdn.example"]
    assert seen[0].headers["authorization"] == f"Bearer {SECRET_KEY}"
    assert "authorization" not in seen[1].headers
    assert not any(SECRET_KEY in value for value in seen[1].headers.values())
    await backend.aclose()
