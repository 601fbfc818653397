"""The service's hooks into the S3-compatible asset store (`ctx.store`, SORA_MCP_ASSET_STORE).

With no store configured every function here is a no-op and archiving works on the local
library as before. With one: a download or derived file lands in the temp folder and
`upload` streams it into the bucket (hashed on the way, checked against the download) and
returns the `s3://bucket/key` location the ledger records; `stored_mp4` gives the deriving
code a local copy of an MP4 kept in the bucket; `asset_link` and `with_links` put a fresh
presigned link on files kept there; `delete_stored` removes an object; `small_file` reads a
thumbnail back for the tool result that shows it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import anyio.to_thread

from sora_mcp.errors import ConfigError, SoraError
from sora_mcp.library.stores import fetch_to_temp, is_s3_location, store_file
from sora_mcp.library.tempfiles import new_temp_name
from sora_mcp.models import VARIANT_MIME, Job
from sora_mcp.service.context import ServiceContext


def staging_path(ctx: ServiceContext, dest: Path) -> Path:
    """Where a download goes first: `dest` in the library, or a temp file when a store takes it."""
    return dest if ctx.store is None else ctx.settings.tmp_dir / new_temp_name(dest.suffix)


async def upload(ctx: ServiceContext, staged: Path, video_id: str, variant: str, size: int, sha: str) -> str:
    """Stream a staged file into the store (removing it) and return its location there."""
    if ctx.store is None:  # callers check ctx.store first
        raise RuntimeError("no asset store is configured")
    stored = await store_file(
        ctx.store, staged, video_id, variant, VARIANT_MIME[variant], size=size, sha256=sha
    )
    return stored.location


@asynccontextmanager
async def stored_mp4(ctx: ServiceContext, location: str) -> AsyncIterator[Path]:
    """A local path to read the archived MP4 from: the library file itself, or a temp copy of an
    object in the store (removed on exit)."""
    if ctx.store is None or not is_s3_location(location):
        yield Path(location)
        return
    copy = await anyio.to_thread.run_sync(fetch_to_temp, ctx.store, location, ctx.settings.tmp_dir, ".mp4")
    try:
        yield copy
    finally:
        copy.unlink(missing_ok=True)


def present(ctx: ServiceContext, location: str, size: int) -> bool:
    """Whether an object in the store is there with the recorded size (blocking)."""
    return ctx.store is not None and ctx.store.size(location) == size


def asset_link(ctx: ServiceContext, location: str) -> str | None:
    """A presigned link for a file in the S3 store (None for a local file)."""
    store = ctx.store
    if store is None or not is_s3_location(location):
        return None
    try:
        return store.presigned_url(location, ctx.settings.asset_url_ttl_s)
    except SoraError:  # archived into another bucket than the one configured now: no link to give
        return None


def with_links(ctx: ServiceContext, job: Job) -> Job:
    """The job with a fresh presigned link on each file kept in the S3 store."""
    if ctx.store is None:
        return job
    assets = [a.model_copy(update={"url": asset_link(ctx, a.path)}) for a in job.assets]
    return job.model_copy(update={"assets": assets})


async def delete_stored(ctx: ServiceContext, video_id: str, location: str) -> None:
    """Remove an object of the job's from the store (a missing one is fine)."""
    if ctx.store is None:
        raise ConfigError(
            f"The files of {video_id} are in S3, but SORA_MCP_ASSET_STORE is not set",
            fix="Set SORA_MCP_ASSET_STORE to their bucket, then delete again.",
        )
    await anyio.to_thread.run_sync(ctx.store.delete, location)


def small_file(ctx: ServiceContext, location: str, size: int, limit: int) -> bytes | None:
    """The bytes of a file of at most `limit` bytes kept in the store (a thumbnail to show), or
    None: a local file, too large, or the store not answering (blocking)."""
    if ctx.store is None or not is_s3_location(location) or size > limit:
        return None
    try:
        return ctx.store.read(location, 0, size)
    except SoraError:
        return None
