"""The same journey on every dialect: create → retrieve until done → download video and
thumbnail → list → delete, with each backend's missing features answered by clear refusals."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sora_mcp.backends import Backend
from sora_mcp.errors import Unsupported, VariantUnavailable
from sora_mcp.models import RemoteVideo
from tests.dialects.fake_dialects import FakeGateway, FakeLiteLLM, FakeSglang, FakeVllmOmni

from .fakes import MP4_HEAD, FakeServer, FakeVideos, mp4_bytes
from .mock import make_backend

pytestmark = pytest.mark.anyio
EXTRA = {"seed": 7, "negative_prompt": "blurry, static", "num_frames": 33, "fps": 16}


async def wait_done(backend: Backend, video_id: str) -> list[RemoteVideo]:
    seen = []
    for _ in range(10):
        video = await backend.retrieve(video_id)
        seen.append(video)
        if video.status == "completed":
            return seen
    raise AssertionError(f"never completed: {[v.raw_status for v in seen]}")


async def download(backend: Backend, video_id: str, variant: str = "video") -> tuple[bytes, str | None]:
    async with backend.open_content(video_id, variant) as stream:  # type: ignore[arg-type]
        data = b"".join([chunk async for chunk in stream.aiter_bytes(8192)])
        return data, stream.served_variant


def content_requests(fake: FakeVideos) -> list[str]:
    return [path for method, path, _ in fake.log if method == "GET" and "/content" in path]


async def test_vllm_omni_journey(serve: Callable[[FakeVideos], FakeServer]) -> None:
    fake = FakeVllmOmni()
    backend = make_backend(serve(fake).base_url)
    created = await backend.create(
        "a red kite over dunes", "Wan-AI/Wan2.2-T2V-A14B-Diffusers", "832x480", "4", extra=EXTRA
    )
    assert backend.dialect == "vllm-omni"  # detected from /v1/models owned_by "vllm"
    assert created.id.startswith("video_gen_") and created.status == "queued"
    # Form fields only, extras included as fields.
    assert fake.bodies[0] == {
        "prompt": "a red kite over dunes",
        "model": "Wan-AI/Wan2.2-T2V-A14B-Diffusers",
        "size": "832x480",
        "seconds": "4",
        "seed": "7",
        "negative_prompt": "blurry, static",
        "num_frames": "33",
        "fps": "16",
    }
    states = await wait_done(backend, created.id)
    assert [v.status for v in states] == ["in_progress", "completed"]
    assert states[-1].progress == 100 and states[-1].seconds == "4" and states[-1].size == "832x480"
    data, served = await download(backend, created.id)
    assert data == mp4_bytes(fake.content_size) and served == "video"
    with pytest.raises(VariantUnavailable, match=r"vLLM-Omni\) serves only the MP4"):
        await download(backend, created.id, "thumbnail")
    assert len(content_requests(fake)) == 1  # the thumbnail was not even asked for
    with pytest.raises(Unsupported, match=r"vLLM-Omni\) cannot remix.*Create a new clip"):
        await backend.remix(created.id, "same kite, at night")
    page = await backend.list()
    assert [v.id for v in page.data] == [created.id] and page.data[0].status == "completed"
    assert await backend.delete(created.id) is True
    assert fake.jobs == {}
    await backend.aclose()


async def test_sglang_journey(serve: Callable[[FakeVideos], FakeServer]) -> None:
    fake = FakeSglang()
    backend = make_backend(serve(fake).base_url)
    created = await backend.create(
        "waves at dusk", "Wan-AI/Wan2.1-T2V-1.3B-Diffusers", "832x480", "8", extra={"seed": 3, "fps": 16}
    )
    assert backend.dialect == "sglang"
    assert fake.bodies[0]["seconds"] == 8 and fake.bodies[0]["seed"] == 3  # JSON, integer seconds
    states = await wait_done(backend, created.id)
    assert states[0].status == "in_progress" and states[0].progress == 50
    assert states[-1].raw_status == "completed" and states[-1].progress == 100  # the server said 99
    assert states[-1].seconds == "8"
    data, served = await download(backend, created.id)
    assert data[4:8] == b"ftyp" and served == "video"
    with pytest.raises(VariantUnavailable):
        await download(backend, created.id, "spritesheet")
    with pytest.raises(Unsupported, match=r"SGLang\) cannot extend"):
        await backend.extend(created.id, "keep going", "4")
    assert [v.id for v in (await backend.list()).data] == [created.id]
    assert await backend.delete(created.id) is True  # answered with the job, status "deleted"
    await backend.aclose()


async def test_litellm_journey(serve: Callable[[FakeVideos], FakeServer]) -> None:
    fake = FakeLiteLLM()
    backend = make_backend(serve(fake).base_url)
    created = await backend.create("a lighthouse in fog", "wan-video", "1280x720", "4", extra={"seed": 1})
    assert backend.dialect == "litellm"  # from the create answer (x-litellm-* headers, encoded id)
    assert len(created.id) > 150 and created.id in fake.jobs  # the long base64 id, untouched
    states = await wait_done(backend, created.id)
    assert (states[0].status, states[0].raw_status) == ("in_progress", "processing")
    data, served = await download(backend, created.id)
    assert data == mp4_bytes(fake.content_size)
    # LiteLLM does not forward `variant`: the MP4 comes back, and the stream says so.
    thumb, served = await download(backend, created.id, "thumbnail")
    assert served == "video" and thumb[4:8] == b"ftyp"
    remix = await backend.remix(created.id, "the same lighthouse, at sunrise")
    assert remix.remixed_from_video_id == created.id and fake.bodies[-1]["prompt"].endswith("sunrise")
    page = await backend.list()
    assert {v.id for v in page.data} == {created.id, remix.id}
    list_headers = [h for m, p, h in fake.log if m == "GET" and p == "/v1/videos"]
    assert list_headers[-1]["custom-llm-provider"] == "hosted_vllm"  # read back from LiteLLM's own id
    with pytest.raises(Unsupported, match=r"LiteLLM\) cannot delete videos \(HTTP 405\).*local record"):
        await backend.delete(created.id)
    await backend.aclose()


async def test_gateway_journey(serve: Callable[[FakeVideos], FakeServer]) -> None:
    fake = FakeGateway()
    server = serve(fake)
    backend = make_backend(server.base_url)
    created = await backend.create(
        "a paper boat on a river", "gw-video-1", "1280x720", "8", idempotency_key="key-123"
    )
    assert backend.dialect == "generic"
    # Multipart was refused with 415 (nothing created), then JSON went through: one job.
    posts = [h for m, p, h in fake.log if m == "POST"]
    assert len(posts) == 2 and len(fake.jobs) == 1
    assert (
        posts[0]["content-type"].startswith("multipart/") and posts[1]["content-type"] == "application/json"
    )
    assert all(h["idempotency-key"] == "key-123" for h in posts)
    assert (created.status, created.raw_status, created.seconds) == ("queued", "pending", "8")
    assert created.size == "1280x720" and isinstance(created.created_at, int)
    states = await wait_done(backend, created.id)
    assert (states[0].status, states[0].progress) == ("in_progress", 50)
    assert states[-1].raw_status == "succeeded" and states[-1].video_url.startswith(server.origin)
    data, served = await download(backend, created.id)
    assert data == mp4_bytes(fake.content_size) and served == "video"
    # A fresh client knows no video_url yet: /content 404s, the job's video_url is found and used.
    fresh = make_backend(server.base_url)
    assert (await download(fresh, created.id))[0][: len(MP4_HEAD)] == MP4_HEAD
    with pytest.raises(VariantUnavailable, match="no thumbnail"):
        await download(fresh, created.id, "thumbnail")
    assert [v.id for v in (await backend.list()).data] == [created.id]
    assert await backend.delete(created.id) is True
    await backend.aclose()
    await fresh.aclose()


async def test_gateway_terminal_statuses(serve: Callable[[FakeVideos], FakeServer]) -> None:
    backend = make_backend(serve(FakeGateway()).base_url, dialect="generic")
    cancelled = await backend.create("please cancel me", None, None, None)
    expired = await backend.create("this will expire", None, None, None)
    assert (cancelled.status, cancelled.raw_status) == ("cancelled", "cancelled")
    assert (expired.status, expired.raw_status) == ("expired", "expired")
    await backend.aclose()
