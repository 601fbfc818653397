"""Streamed, resumable, atomic downloads: bytes go to a temp file, then one rename makes them real.

`download(opener, dest, tmp_dir=...)` asks `opener(offset)` for a stream (the backend layer's
`ContentStream`, duck-typed), writes and hashes chunks in a worker thread (constant memory,
the event loop stays free), resumes with a Range request after a dropped connection when the
backend allows it (else restarts from 0), checks the size, fsyncs and renames into place.
Whatever goes wrong — errors, time-outs, cancellation — the temp file is removed and `dest`
is either the complete new file or untouched. A file larger than `max_bytes` (announced, or
still streaming past it) stops the download at once with `AssetTooLarge`, leaving nothing.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from sora_mcp.errors import (
    BackendError,
    BackendUnavailable,
    DiskError,
    RateLimited,
    SoraError,
    Unsupported,
    as_disk_full,
)
from sora_mcp.library.tempfiles import atomic_replace, create_temp

# What we ask the stream for: one socket read (httpcore reads 64 KiB), so the client need not join pieces.
_READ_SIZE = 1 << 16
# Resumed attempts that make progress may go on to this many times max_attempts requests in all.
PROGRESS_FACTOR = 8
_RETRY_FIX = "Try download_asset again later; the job's file stays on the backend until it expires."


Opener = Callable[[int], AbstractAsyncContextManager[Any]]


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    size: int
    sha256: str
    content_type: str | None
    served_variant: str | None
    attempts: int = 1
    resumed: bool = False


class AssetTooLarge(BackendError):
    """The file is larger than the configured maximum (SORA_MCP_MAX_ASSET_MB); nothing was kept."""

    code = "too_large"


def too_large(limit: int, size: int | None = None) -> AssetTooLarge:
    said = f"is {size / 1048576:.0f} MB" if size is not None else "kept coming"
    return AssetTooLarge(
        f"The backend's file {said}, past the {limit / 1048576:g} MB limit for one archived file; "
        "the download stopped and nothing partial was kept",
        fix="Raise SORA_MCP_MAX_ASSET_MB if files this large are expected, or check the backend.",
    )


class _Sink:
    """The temp file plus a running sha256; `write` runs in a worker thread."""

    def __init__(self, tmp_dir: Path, suffix: str, max_bytes: int | None = None) -> None:
        self.fd, self.path = create_temp(tmp_dir, suffix)
        self.hasher = hashlib.sha256()
        self.size = 0
        self.max_bytes = max_bytes

    def write(self, data: bytes | bytearray) -> None:
        if self.max_bytes is not None and self.size + len(data) > self.max_bytes:
            raise too_large(self.max_bytes)
        view = memoryview(data)
        try:
            while view:
                n = os.write(self.fd, view)
                view = view[n:]
        except OSError as exc:
            if (full := as_disk_full(exc)) is not None:
                raise full from None
            raise DiskError(
                f"Could not write the download into the data directory ({exc.strerror}).",
                fix="Free disk space or point SORA_MCP_DATA_DIR at a writable folder, then download again.",
            ) from None
        self.hasher.update(data)
        self.size += len(data)

    def write_many(self, pieces: list[bytes]) -> None:
        for piece in pieces:
            self.write(piece)

    def restart(self) -> None:
        os.ftruncate(self.fd, 0)
        os.lseek(self.fd, 0, os.SEEK_SET)
        self.hasher = hashlib.sha256()
        self.size = 0

    def finish(self) -> None:
        os.fsync(self.fd)
        os.close(self.fd)
        self.fd = -1

    def discard(self) -> None:
        if self.fd >= 0:
            with suppress(OSError):
                os.close(self.fd)
            self.fd = -1
        with suppress(FileNotFoundError):
            self.path.unlink()


class _Retry(Exception):
    """This attempt ended early; try again (resuming when possible)."""


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, (_Retry, BackendUnavailable, RateLimited)):
        return True
    if isinstance(exc, SoraError):
        # Plain BackendError is a 5xx; its subclasses (auth) and other SoraErrors are final.
        return type(exc) is BackendError
    # Transport errors from whatever HTTP client the opener uses (reset, incomplete body...).
    return isinstance(exc, Exception)


def _range_ok(stream: Any, offset: int) -> bool:
    """Does this 206 really start at `offset`? Use Content-Range's start when the stream has it."""
    start = getattr(stream, "range_start", None)
    if start is not None:
        return int(start) == offset
    if stream.total_size is not None and stream.content_length is not None:
        return offset + int(stream.content_length) == int(stream.total_size)
    return True


async def _pump(stream: Any, sink: _Sink, chunk_size: int) -> None:
    """Receive the body while a worker thread writes and hashes the previous chunks.

    The overlap is what keeps up with curl; the queue is bounded (2 chunks) so memory stays
    flat. If either side fails, the other is cancelled; a write in progress finishes first,
    so `sink.size` is always exactly what reached the file (the offset to resume from).
    """
    send, receive = anyio.create_memory_object_stream[list[bytes]](2)

    async def writer() -> None:
        async with receive:
            async for batch in receive:
                await anyio.to_thread.run_sync(sink.write_many, batch)

    dropped: Exception | None = None
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(writer)
            async with send:
                # Pieces are batched as a list (no joining copy) and handed over ~chunk_size at a time.
                batch: list[bytes] = []
                pending = 0
                try:
                    async for piece in stream.aiter_bytes(_READ_SIZE):
                        batch.append(piece)
                        pending += len(piece)
                        if pending >= chunk_size:
                            await send.send(batch)
                            batch, pending = [], 0
                except Exception as exc:  # noqa: BLE001 - re-raised below, once the bytes are written
                    # The connection dropped: keep what did arrive, so the retry resumes after it
                    # (otherwise a file smaller than chunk_size would restart from 0 every time).
                    dropped = exc
                if batch:
                    await send.send(batch)
    except BaseExceptionGroup as group:
        # Surface the one real error (a transport or disk error), not the group around it.
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
    if dropped is not None:
        raise dropped


async def _attempt(
    opener: Opener, sink: _Sink, offset: int, state: dict[str, Any], chunk_size: int, expected: str | None
) -> None:
    """One request: append (206 at `offset`) or start over (200); raises `_Retry` on a short body."""
    async with opener(offset) as stream:
        code = int(stream.status_code)
        if code not in (200, 206):
            cls = BackendError if code >= 500 or code == 429 else SoraError
            raise cls(f"The backend answered HTTP {code} to the download.", fix=_RETRY_FIX)
        served = stream.served_variant
        if expected and served and served != expected:
            raise Unsupported(
                f"The backend sent a {served} when the {expected} was asked for.",
                fix=f"Download the video instead; sora-mcp can make the {expected} from it.",
            )
        resumed = offset > 0 and code == 206 and _range_ok(stream, offset)
        if offset > 0 and not resumed:
            await anyio.to_thread.run_sync(sink.restart)
            if code == 206:  # a range we did not ask for: ask again for the whole file
                raise _Retry("the backend answered a different byte range")
        total = stream.total_size if code == 206 else (stream.total_size or stream.content_length)
        if sink.max_bytes is not None and total is not None and total > sink.max_bytes:
            raise too_large(sink.max_bytes, total)  # announced too large: not one byte is written
        if resumed and state["total"] is not None and total is not None and total != state["total"]:
            await anyio.to_thread.run_sync(sink.restart)
            raise _Retry("the file changed size between attempts")
        state.update(total=total, ranges=bool(stream.accepts_ranges), resumed=state["resumed"] or resumed)
        state["content_type"] = stream.content_type
        state["served_variant"] = stream.served_variant
        await _pump(stream, sink, chunk_size)
    if total is not None and sink.size != total:
        if sink.size > total:
            await anyio.to_thread.run_sync(sink.restart)
        raise _Retry(f"the body ended after {sink.size} of {total} bytes")


async def download(
    opener: Opener,
    dest: Path,
    *,
    tmp_dir: Path,
    max_attempts: int = 4,
    chunk_size: int = 1 << 20,
    backoff_s: float = 0.25,
    expected_variant: str | None = None,
    max_bytes: int | None = None,
) -> DownloadResult:
    """Download to `dest` atomically; resume or restart up to `max_attempts` failed tries.

    A resumed attempt that moves the file forward before it drops is not counted as a
    failure (a link that drops every few MB still finishes a large file), but the total is
    capped at `PROGRESS_FACTOR * max_attempts` requests. `chunk_size` is how many bytes are
    handed to the writer thread at once (the stream itself is read in 64 KiB pieces). With
    `expected_variant`, a stream whose `served_variant` is something else (a video sent for a
    thumbnail request) raises `Unsupported` before any byte is written, so the caller can
    derive the variant instead. `max_bytes` bounds the file (see `AssetTooLarge`).
    """
    sink = _Sink(tmp_dir, dest.suffix, max_bytes)
    state: dict[str, Any] = {
        "total": None,
        "ranges": False,
        "resumed": False,
        "content_type": None,
        "served_variant": None,
    }
    done = False
    try:
        last: BaseException | None = None
        failures = attempt = 0
        while failures < max_attempts and attempt < PROGRESS_FACTOR * max_attempts:
            attempt += 1
            offset = sink.size if state["ranges"] else 0
            if offset == 0 and sink.size:
                await anyio.to_thread.run_sync(sink.restart)
            try:
                await _attempt(opener, sink, offset, state, chunk_size, expected_variant)
            except BaseException as exc:  # cancellation propagates: not retryable
                if not _retryable(exc):
                    raise
                last = exc
                progressed = offset > 0 and sink.size > offset  # a resume that got further: no failure
                failures += 0 if progressed else 1
                if failures < max_attempts:
                    wait = exc.retry_after if isinstance(exc, RateLimited) and exc.retry_after else 0
                    pause = backoff_s * 2 ** max(failures - 1, 0) / (4 if progressed else 1)
                    await anyio.sleep(min(max(wait, pause), 10.0))
                continue
            await anyio.to_thread.run_sync(sink.finish)
            await anyio.to_thread.run_sync(atomic_replace, sink.path, dest)
            done = True
            return DownloadResult(
                path=dest,
                size=sink.size,
                sha256=sink.hasher.hexdigest(),
                content_type=state["content_type"],
                served_variant=state["served_variant"],
                attempts=attempt,
                resumed=state["resumed"],
            )
        reason = str(last) if isinstance(last, (SoraError, _Retry)) else f"{type(last).__name__}: {last}"
        raise BackendError(
            f"Download failed after {attempt} attempts: {reason[:200]}",
            fix="Check that the backend is reachable and try again; nothing partial was kept.",
        )
    finally:
        if not done:
            sink.discard()
