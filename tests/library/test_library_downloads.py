"""Downloads against a real HTTP server on 127.0.0.1: resume, restart, failure and cancellation."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import anyio
import pytest

from sora_mcp.errors import BackendError, Unsupported
from sora_mcp.library import download

DATA = os.urandom(3 * (1 << 20) + 12345)  # a few chunks plus a ragged tail
SHA = hashlib.sha256(DATA).hexdigest()


@pytest.mark.anyio
async def test_download_streams_to_dest_with_matching_sha256(
    data_dir: Path, file_server: Any, opener_for: Any
) -> None:
    server = file_server(DATA)
    dest = data_dir / "library" / "vid" / "video.mp4"
    result = await download(opener_for(server.url), dest, tmp_dir=data_dir / "tmp")
    assert dest.read_bytes() == DATA
    assert (result.size, result.sha256, result.path) == (len(DATA), SHA, dest)
    assert result.content_type == "video/mp4" and result.attempts == 1 and not result.resumed
    assert server.requests == [None]


@pytest.mark.anyio
async def test_dropped_connection_is_resumed_with_range(
    data_dir: Path, file_server: Any, opener_for: Any
) -> None:
    server = file_server(DATA, drop_at=1_500_000, drops=1)
    dest = data_dir / "library" / "vid" / "video.mp4"
    result = await download(opener_for(server.url), dest, tmp_dir=data_dir / "tmp", backoff_s=0.01)
    assert dest.read_bytes() == DATA
    assert result.sha256 == SHA and result.resumed and result.attempts == 2
    # The first request was cut; the second asked only for the rest (chunks land in 1 MiB steps).
    assert server.requests[0] is None
    assert server.requests[1] is not None and server.requests[1].startswith("bytes=")
    resumed_from = int(server.requests[1].split("=")[1].rstrip("-"))
    assert 0 < resumed_from <= 1_500_000


@pytest.mark.anyio
async def test_server_without_range_support_restarts_from_zero(
    data_dir: Path, file_server: Any, opener_for: Any
) -> None:
    server = file_server(DATA, ranges=False, drop_at=2_500_000, drops=2)
    dest = data_dir / "library" / "vid" / "video.mp4"
    result = await download(opener_for(server.url), dest, tmp_dir=data_dir / "tmp", backoff_s=0.01)
    assert dest.read_bytes() == DATA
    assert result.sha256 == SHA and result.attempts == 3 and not result.resumed
    assert server.requests == [None, None, None]


@pytest.mark.anyio
async def test_short_body_every_time_fails_cleanly(data_dir: Path, file_server: Any, opener_for: Any) -> None:
    # The body always stops short of its Content-Length, even when resumed.
    server = file_server(DATA, drop_at=2_000_000, drops=-1)
    dest = data_dir / "library" / "vid" / "video.mp4"
    with pytest.raises(BackendError, match="after 3 attempts") as info:
        await download(opener_for(server.url), dest, tmp_dir=data_dir / "tmp", max_attempts=3, backoff_s=0.01)
    assert len(server.requests) == 3
    assert str(data_dir) not in str(info.value)
    assert not dest.exists()
    assert list((data_dir / "tmp").iterdir()) == []


@pytest.mark.anyio
async def test_failed_redownload_keeps_existing_good_file(
    data_dir: Path, file_server: Any, opener_for: Any
) -> None:
    dest = data_dir / "library" / "vid" / "video.mp4"
    dest.parent.mkdir(parents=True)
    dest.write_bytes(b"the good copy")
    server = file_server(DATA, ranges=False, drop_at=100_000, drops=-1)
    with pytest.raises(BackendError):
        await download(opener_for(server.url), dest, tmp_dir=data_dir / "tmp", max_attempts=2, backoff_s=0.01)
    assert dest.read_bytes() == b"the good copy"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["video.mp4"]


@pytest.mark.anyio
async def test_cancellation_mid_download_leaves_nothing(
    data_dir: Path, file_server: Any, opener_for: Any
) -> None:
    server = file_server(DATA, stall_at=1_200_000)
    dest = data_dir / "library" / "vid" / "video.mp4"
    tmp = data_dir / "tmp"
    seen_partial = False

    async def cancel_once_bytes_landed(scope: anyio.CancelScope) -> None:
        nonlocal seen_partial
        while not any(p.stat().st_size > 0 for p in tmp.iterdir()):
            await anyio.sleep(0.01)
        seen_partial = True
        scope.cancel()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(cancel_once_bytes_landed, tg.cancel_scope)
            await download(opener_for(server.url), dest, tmp_dir=tmp)
    assert seen_partial, "the download was cancelled before it wrote anything"
    assert not dest.exists()
    assert list(tmp.iterdir()) == []


@pytest.mark.anyio
async def test_http_error_status_is_not_retried(data_dir: Path) -> None:
    calls = []

    class Gone:
        status_code, content_type, content_length, total_size = 404, "application/json", 0, None
        accepts_ranges, served_variant = False, None

        async def aiter_bytes(self, chunk_size: int) -> Any:
            yield b""

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def opener(offset: int) -> Any:
        calls.append(offset)
        yield Gone()

    with pytest.raises(Exception, match="HTTP 404"):
        await download(opener, data_dir / "x.mp4", tmp_dir=data_dir / "tmp")
    assert calls == [0]


@pytest.mark.anyio
async def test_a_range_answer_from_the_wrong_offset_is_not_spliced_in(
    data_dir: Path, file_server: Any, opener_for: Any
) -> None:
    # The server claims 206 for the resume but sends the file from byte 0: appending it would corrupt.
    server = file_server(DATA, drop_at=1_500_000, drops=1, wrong_range=True)
    dest = data_dir / "library" / "vid" / "video.mp4"
    result = await download(opener_for(server.url), dest, tmp_dir=data_dir / "tmp", backoff_s=0.01)
    assert dest.read_bytes() == DATA and result.sha256 == SHA
    assert server.requests[0] is None and server.requests[1] is not None and server.requests[2] is None


@pytest.mark.anyio
async def test_move_across_filesystems_still_lands_atomically(
    data_dir: Path, file_server: Any, opener_for: Any
) -> None:
    other = Path("/dev/shm")
    if not other.is_dir() or other.stat().st_dev == data_dir.stat().st_dev:
        pytest.skip("no second filesystem to download across")
    server = file_server(DATA)
    tmp = other / f"sora-lib-test-{os.getpid()}"
    tmp.mkdir()
    try:
        dest = data_dir / "library" / "vid" / "video.mp4"
        result = await download(opener_for(server.url), dest, tmp_dir=tmp)
        assert dest.read_bytes() == DATA and result.sha256 == SHA
        assert list(tmp.iterdir()) == [] and sorted(p.name for p in dest.parent.iterdir()) == ["video.mp4"]
    finally:
        for p in tmp.iterdir():
            p.unlink()
        tmp.rmdir()


@pytest.mark.anyio
async def test_wrong_variant_is_refused_before_writing(
    data_dir: Path, file_server: Any, opener_for: Any
) -> None:
    server = file_server(DATA)  # the test stream says it serves "video"
    dest = data_dir / "library" / "vid" / "thumbnail.webp"
    with pytest.raises(Unsupported, match="sent a video when the thumbnail"):
        await download(opener_for(server.url), dest, tmp_dir=data_dir / "tmp", expected_variant="thumbnail")
    assert not dest.exists() and len(server.requests) == 1
