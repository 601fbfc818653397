"""The backend client against the real embedded engine over HTTP: the reference dialect."""

from __future__ import annotations

import anyio
import pytest

from sora_mcp.backends import Backend
from sora_mcp.config import Settings
from sora_mcp.errors import OutcomeUnknown
from tests.conditions import eventually

pytestmark = pytest.mark.anyio


def engine_backend(base_url: str, tmp_path, **settings) -> Backend:  # type: ignore[no-untyped-def]
    """As the service does it: no SORA_MCP_BASE_URL, the engine's URL passed in."""
    settings.setdefault("request_timeout_s", 30.0)
    return Backend.from_settings(
        Settings(base_url=None, api_key=None, dialect="auto", data_dir=tmp_path, **settings),
        base_url=base_url,
    )


async def wait_done(backend: Backend, video_id: str) -> None:
    with anyio.fail_after(60):
        while (video := await backend.retrieve(video_id)).status not in ("completed", "failed"):
            assert video.poll_after_ms is not None  # from the openai-poll-after-ms header
            await anyio.sleep(min(video.poll_after_ms, 200) / 1000)
    assert video.status == "completed" and video.progress == 100, video


async def test_engine_journey(engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    backend = engine_backend(engine.base_url, tmp_path)
    assert backend.dialect == "engine"
    created = await backend.create("a red ball bouncing on a wooden floor", "sora-2", "1280x720", "4")
    assert (
        created.status in ("queued", "in_progress") and created.seconds == "4" and created.size == "1280x720"
    )
    await wait_done(backend, created.id)
    async with backend.open_content(created.id, "video") as stream:
        head = b""
        async for chunk in stream.aiter_bytes(4096):
            head = head or chunk
        assert stream.served_variant == "video" and head[4:8] == b"ftyp"
    async with backend.open_content(created.id, "thumbnail") as stream:
        assert stream.served_variant == "thumbnail" and stream.content_type.startswith("image/webp")
        assert len(b"".join([c async for c in stream.aiter_bytes()])) > 100
    remix = await backend.remix(created.id, "the same ball, now blue")
    assert remix.remixed_from_video_id == created.id
    page = await backend.list(limit=10)
    assert {created.id, remix.id} <= {v.id for v in page.data}
    assert await backend.list_models() == ["sora-2", "sora-2-pro"]  # the engine's GET /v1/models
    extended = await backend.extend(created.id, "the ball rolls away", "4")
    edited = await backend.edit(created.id, "make the floor marble")
    assert extended.id not in (created.id, edited.id) and edited.status in ("queued", "in_progress")
    await wait_done(backend, remix.id)
    assert await backend.delete(remix.id) is True
    await backend.aclose()


async def test_idempotency_key_reaches_the_engine(engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    backend = engine_backend(engine.base_url, tmp_path)
    first = await backend.create("a kite", "sora-2", "1280x720", "4", idempotency_key="same-key-1")
    again = await backend.create("a kite", "sora-2", "1280x720", "4", idempotency_key="same-key-1")
    assert again.id == first.id and engine.jobs_count() == 1
    await backend.aclose()


async def test_engine_timeout_after_accepting_leaves_exactly_one_job(engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine.set_faults(response_delay_ms=1500)
    backend = engine_backend(engine.base_url, tmp_path, request_timeout_s=0.5)
    with pytest.raises(OutcomeUnknown):
        await backend.create("a slow kite", "sora-2", "1280x720", "4", idempotency_key="k-timeout")
    # the engine made the job and logged the POST before holding its answer back
    await eventually(lambda: engine.stats.count("POST", "/v1/videos") >= 1, what="the abandoned create")
    assert engine.jobs_count() == 1 and engine.stats.count("POST", "/v1/videos") == 1
    await backend.aclose()
