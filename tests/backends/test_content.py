"""Downloads stream: Range resumes, big bodies arrive in chunks, and the bytes say what they are."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import pytest

from sora_mcp.backends.content import served_variant, sniff_mime
from tests.dialects.fake_dialects import FakeLiteLLM

from .fakes import FakeServer, FakeVideos, content_slice
from .mock import make_backend

pytestmark = pytest.mark.anyio


async def finished_job(fake: FakeVideos, backend_call) -> str:  # type: ignore[no-untyped-def]
    video = await backend_call.create("a cat", None, None, None)
    fake.jobs[video.id].update(status="completed", step=2, progress=100)
    return video.id


async def test_offset_sends_range_and_gets_the_rest(serve: Callable[..., FakeServer]) -> None:
    fake = FakeVideos()
    backend = make_backend(serve(fake).base_url, dialect="generic")
    video_id = await finished_job(fake, backend)
    async with backend.open_content(video_id, "video", offset=1000) as stream:
        data = b"".join([c async for c in stream.aiter_bytes()])
        assert (stream.status_code, stream.offset, stream.accepts_ranges) == (206, 1000, True)
        assert stream.total_size == fake.content_size and stream.content_length == fake.content_size - 1000
        assert stream.served_variant == "video"  # from Content-Type: mid-file bytes have no magic
    assert data == content_slice(1000, fake.content_size)
    assert fake.log[-1][2]["range"] == "bytes=1000-"
    await backend.aclose()


async def test_a_server_ignoring_range_restarts_from_zero(serve: Callable[..., FakeServer]) -> None:
    fake = FakeLiteLLM()
    backend = make_backend(serve(fake).base_url)
    video_id = await finished_job(fake, backend)
    async with backend.open_content(video_id, "video", offset=1000) as stream:
        data = b"".join([c async for c in stream.aiter_bytes()])
        assert (stream.status_code, stream.offset, stream.accepts_ranges) == (200, 0, False)
    assert data == content_slice(0, fake.content_size)  # the caller must rewrite from byte 0
    await backend.aclose()


async def test_50_mb_body_streams_in_chunks_without_buffering(serve: Callable[..., FakeServer]) -> None:
    fake = FakeVideos()
    fake.content_size = 50 * 1024 * 1024
    backend = make_backend(serve(fake).base_url, dialect="generic")
    video_id = await finished_job(fake, backend)
    sizes: list[int] = []
    tracemalloc.start()
    try:
        async with backend.open_content(video_id, "video") as stream:
            assert stream.total_size == fake.content_size
            async for chunk in stream.aiter_bytes(1 << 20):
                if not sizes:
                    assert chunk[4:8] == b"ftyp"
                sizes.append(len(chunk))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(sizes) == fake.content_size and len(sizes) >= 50 and max(sizes) <= 1 << 20
    assert peak < 16 * 1024 * 1024, f"peak {peak} bytes: the body was buffered"
    await backend.aclose()


def test_magic_bytes() -> None:
    assert sniff_mime(b"\x00\x00\x00\x20ftypisom") == "video/mp4"
    assert sniff_mime(b"RIFF\x10\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff_mime(b"\xff\xd8\xff\xe0\x00\x10JFIF") == "image/jpeg"
    assert sniff_mime(b"\x89PNG\r\n\x1a\n\x00\x00") == "image/png"
    assert sniff_mime(b"<html><body>") is None


def test_served_variant_trusts_bytes_over_labels() -> None:
    mp4 = b"\x00\x00\x00\x20ftypisom\x00\x00"
    assert served_variant(mp4, "image/webp", requested="thumbnail") == "video"  # LiteLLM's answer
    assert (
        served_variant(b"RIFF\0\0\0\0WEBPVP8 ", "application/octet-stream", requested="thumbnail")
        == "thumbnail"
    )
    assert served_variant(b"\xff\xd8\xff\xe0", "image/jpeg", requested="spritesheet") == "spritesheet"
    assert served_variant(b"<html>", "text/html", requested="video") is None
