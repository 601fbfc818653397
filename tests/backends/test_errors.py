"""Every failure reaches the caller as one actionable `SoraError`, without the API key.

The backend's answers come from `httpx2.MockTransport` handler functions in OpenAI's published
error shape; the refused connection is a real socket."""

from __future__ import annotations

import socket

import anyio
import httpx2
import openai
import pytest

from sora_mcp.backends import map_error
from sora_mcp.errors import (
    AuthFailed,
    BackendError,
    BackendUnavailable,
    InvalidInput,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    SoraError,
)

from .mock import SECRET_KEY, make_backend, mock_backend

pytestmark = pytest.mark.anyio


def text_of(exc: SoraError) -> str:
    return f"{exc} {exc.message} {exc.fix}"


def assert_clean(exc: SoraError) -> None:
    text = text_of(exc)
    assert SECRET_KEY not in text and "Traceback" not in text and "/home/" not in text


def openai_error(status: int, message: str, **headers: str) -> httpx2.Response:
    """An error answer in OpenAI's published shape (`{"error": {message, type, param, code}}`)."""
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}
    return httpx2.Response(status, json=body, headers=headers)


def video(video_id: str, status: str = "queued") -> dict[str, object]:
    return {"id": video_id, "object": "video", "status": status, "progress": 0, "model": "sora-2"}


async def test_wrong_key_is_auth_failed_and_the_echoed_key_is_scrubbed() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        sent = request.headers.get("authorization", "").removeprefix("Bearer ")
        # Like OpenAI, echo the key back: the client must scrub it.
        return openai_error(401, f"Incorrect API key provided: {sent}.")

    backend = mock_backend(handler, dialect="generic")
    with pytest.raises(AuthFailed) as info:
        await backend.retrieve("video_1")
    assert "refused the API key (HTTP 401)" in info.value.message and "SORA_MCP_API_KEY" in info.value.fix
    assert_clean(info.value)
    await backend.aclose()


async def test_unknown_id_is_not_found() -> None:
    backend = mock_backend(lambda request: openai_error(404, "Video not found"), dialect="generic")
    with pytest.raises(NotFound, match=r"HTTP 404\): Video not found.*list tool"):
        await backend.retrieve("video_nope")
    await backend.aclose()


@pytest.mark.parametrize(
    ("headers", "expected"), [({"Retry-After": "7"}, 7.0), ({"retry-after-ms": "1500"}, 1.5)]
)
async def test_429_carries_retry_after(headers: dict[str, str], expected: float) -> None:
    posts: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        posts.append(request)
        return openai_error(429, "Too many requests", **headers)

    backend = mock_backend(handler, dialect="generic")
    with pytest.raises(RateLimited) as info:
        await backend.create("a cat", None, None, None)
    assert info.value.retry_after == expected and f"after {expected:g} s" in info.value.fix
    assert [r.method for r in posts] == ["POST"]  # one POST: never retried
    await backend.aclose()


async def test_5xx_is_backend_error_with_its_message() -> None:
    backend = mock_backend(lambda request: openai_error(503, "GPU pool exhausted"), dialect="generic")
    with pytest.raises(
        BackendError, match=r"backend error 503 during retrieve.*GPU pool exhausted.*try again"
    ):
        await backend.retrieve("video_1")
    await backend.aclose()


async def test_validation_message_is_trimmed_scrubbed_and_traceback_free() -> None:
    detail = f"size must be one of 1280x720, 720x1280 (key {SECRET_KEY}) " + "x" * 500
    detail += '\nTraceback (most recent call last):\n  File "/srv/app.py"'
    backend = mock_backend(lambda request: httpx2.Response(400, json={"detail": detail}), dialect="generic")
    with pytest.raises(InvalidInput) as info:
        await backend.create("a cat", None, "1x1", None)
    assert "size must be one of 1280x720" in info.value.message and len(info.value.message) < 420
    assert "***" in info.value.message
    assert_clean(info.value)
    await backend.aclose()


async def test_timeout_after_the_create_was_accepted_is_outcome_unknown() -> None:
    created: list[str] = []

    async def handler(request: httpx2.Request) -> httpx2.Response:
        created.append("video_slow")  # the job exists; the answer is late
        await anyio.sleep(30)
        return httpx2.Response(200, json=video("video_slow"))

    backend = mock_backend(handler, dialect="generic", request_timeout_s=0.5)
    with anyio.fail_after(10), pytest.raises(OutcomeUnknown) as info:
        await backend.create("a slow cat", None, None, None)
    assert "may have created the job" in info.value.message and "Do not resend" in info.value.fix
    assert created == ["video_slow"]  # one job, no retry
    assert_clean(info.value)
    await backend.aclose()


async def test_connection_refused_names_host_and_port_not_the_key() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = make_backend(f"http://127.0.0.1:{port}/v1", dialect="generic")
    for call in (backend.retrieve("video_1"), backend.create("a cat", None, None, None)):
        # Refused before a byte left, so even a create is plainly unavailable, not "unknown".
        with pytest.raises(BackendUnavailable) as info:
            await call
        assert f"127.0.0.1:{port}" in info.value.message and "SORA_MCP_BASE_URL" in info.value.fix
        assert_clean(info.value)
    await backend.aclose()


@pytest.mark.parametrize("status", [404, 410])
def test_openai_host_explains_the_sunset(status: int) -> None:
    request = httpx2.Request(
        "GET", "https://api.openai.com/v1/videos/video_1", headers={"Authorization": f"Bearer {SECRET_KEY}"}
    )
    response = httpx2.Response(status, request=request, json={"error": {"message": f"gone {SECRET_KEY}"}})
    exc = openai.APIStatusError("gone", response=response, body=None)
    error = map_error(exc, operation="retrieve", backend_name="OpenAI", sent=False)
    assert isinstance(error, NotFound)
    assert "2026-09-24" in error.message and "SORA_MCP_BASE_URL" in (error.fix or "")
    assert "vLLM-Omni" in (error.fix or "") and SECRET_KEY not in text_of(error)


def test_is_openai_by_host() -> None:
    assert make_backend("https://api.openai.com/v1").is_openai
    assert make_backend("https://api.openai.com/v1").dialect == "openai"
    assert not make_backend("http://127.0.0.1:9/v1").is_openai
