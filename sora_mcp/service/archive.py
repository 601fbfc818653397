"""Archiving: saving a completed job's files into the library before the backend's links expire.

Every variant is streamed to a temp file and renamed into place by `library.download`. When a
backend cannot serve a thumbnail or spritesheet (or serves the MP4 instead), sora-mcp derives
it from the archived MP4 and marks it `derived`. When the backend's copy has expired before
it was archived, the caller gets `AssetExpired`, which says so plainly.

Several instances may share one ledger (PostgreSQL): archiving a job is claimed in the ledger
(`Ledger.claim("archive", video_id, ...)`), so one instance downloads it while the others wait
until the ledger records it archived. The holder renews its claim while it works; the claim
of an instance that died lapses within `ARCHIVE_CLAIM_TTL_S` and a waiting one takes over.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import anyio

from sora_mcp.config import Settings
from sora_mcp.errors import (
    AssetExpired,
    DiskFull,
    NotFound,
    SoraError,
    StoreError,
    Unsupported,
    as_disk_full,
)
from sora_mcp.library import asset_path, download
from sora_mcp.library.records import JobRecord
from sora_mcp.library.stores import is_s3_location
from sora_mcp.library.tempfiles import private_dir
from sora_mcp.models import VARIANT_MIME, Asset, RemoteVideo, Variant
from sora_mcp.service import storing
from sora_mcp.service.context import ServiceContext

log = logging.getLogger("sora_mcp.archive")
# Short, so a restarted server (a new owner) takes over a dead one's claim soon; renewed meanwhile.
ARCHIVE_CLAIM_TTL_S = 20.0
RENEW_EVERY_S = 5.0
CLAIM_RETRY_S = 1.0


def expired_error(video_id: str, variant: str, expires_at: int | None) -> AssetExpired:
    when = f" at {datetime.fromtimestamp(expires_at, UTC):%Y-%m-%d %H:%M:%S} UTC" if expires_at else ""
    return AssetExpired(
        f"The backend's copy of video {video_id} expired{when} before sora-mcp archived its {variant}, "
        "so it can no longer be downloaded and is not in the library",
        fix=f"Remix it (remix_video(video_id='{video_id}', ...)) or create it again. sora-mcp archives "
        "completed jobs automatically while the server runs; keep it running until get_status says completed.",
    )


def _looks_expired(exc: SoraError, expires_at: int | None) -> bool:
    """Did a failed download fail because the backend's link expired?"""
    if expires_at is not None and expires_at <= time.time():
        return True
    return isinstance(exc, NotFound) and "expired" in exc.message.lower()


def _asset(
    video_id: str,
    variant: str,
    path: Path | str,
    size: int,
    sha256: str,
    derived: bool,
    url: str | None = None,
) -> Asset:
    return Asset(
        video_id=video_id,
        variant=cast(Variant, variant),  # one of VARIANT_MIME's keys, checked by the callers
        path=str(path),
        mime_type=VARIANT_MIME[variant],
        size_bytes=size,
        sha256=sha256,
        derived=derived,
        url=url,
    )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def fully_archived(settings: Settings, record: JobRecord | None) -> bool:
    """Whether the ledger has every configured variant of the job archived."""
    return record is not None and all(record.asset(v) is not None for v in settings.archive_variants)


async def archive(ctx: ServiceContext, remote: RemoteVideo) -> list[Asset]:
    """Save the configured variants of a completed job into the library (once)."""
    async with ctx.archive_lock(remote.id):
        return await archive_job(ctx, remote)


def archive_soon(ctx: ServiceContext, remote: RemoteVideo) -> None:
    """Archive a completed job in the background, once at a time per job (failures are logged)."""
    if remote.id in ctx.archiving or ctx.tasks is None:
        return
    done = ctx.archiving[remote.id] = anyio.Event()

    async def run() -> None:
        try:
            if await archive_quietly(ctx, remote):
                ctx.waiting_for_space.add(remote.id)  # the watcher archives it when space returns
            else:
                ctx.waiting_for_space.discard(remote.id)
        finally:
            del ctx.archiving[remote.id]
            done.set()

    ctx.tasks.start_soon(run)


async def archived(ctx: ServiceContext, video_id: str) -> None:
    """Return once no background archive of the job is running."""
    if (done := ctx.archiving.get(video_id)) is not None:
        await done.wait()


async def archive_quietly(ctx: ServiceContext, remote: RemoteVideo) -> bool:
    """Archive in the background (from list_videos, the watcher's poll); a failure is logged, never
    raised into the server. True when a full disk or the store's outage stopped it, so the watcher
    tries again later."""
    try:
        await archive(ctx, remote)
    except (DiskFull, StoreError) as exc:  # an outage of the disk or the S3 store: the watcher retries
        log.warning("background archive of %s waits for disk space or the store: %s", remote.id, exc.message)
        return True
    except Exception as exc:  # noqa: BLE001 - a background task must not end the server
        log.warning(
            "background archive of %s failed: %s", remote.id, getattr(exc, "message", type(exc).__name__)
        )
    return False


def library_asset(ctx: ServiceContext, video_id: str, variant: str, *, verify: bool = True) -> Asset | None:
    """The archived file, if it is present and intact (size and sha256 as recorded)."""
    for a in ctx.ledger.assets(video_id):
        if a.variant != variant:
            continue
        if is_s3_location(a.path):  # kept in the S3 store: there when the object has the recorded size
            if not storing.present(ctx, a.path, a.size_bytes):
                return None
            link = storing.asset_link(ctx, a.path)
            return _asset(video_id, variant, a.path, a.size_bytes, a.sha256, a.derived, link)
        path = ctx.settings.data_dir / a.path
        try:
            if path.stat().st_size != a.size_bytes:
                return None
        except OSError:
            return None
        if verify and _sha256(path) != a.sha256:
            log.warning("archived %s of %s is corrupt; it will be downloaded again", variant, video_id)
            return None
        return _asset(video_id, variant, path, a.size_bytes, a.sha256, a.derived)
    return None


async def archive_job(ctx: ServiceContext, remote: RemoteVideo) -> list[Asset]:
    """Save every configured variant not yet in the library. Failures are logged, not raised."""
    ledger, owner = ctx.ledger, ctx.instance_id
    while not ledger.claim("archive", remote.id, owner, ARCHIVE_CLAIM_TTL_S):
        # Another instance is archiving it: done once the ledger says so, or ours when its claim lapses.
        if fully_archived(ctx.settings, ledger.get(remote.id)):
            return []
        await anyio.sleep(CLAIM_RETRY_S)
    saved: list[Asset] = []
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_keep_claim, ctx, remote.id, tg.cancel_scope)
            saved = await _archive_claimed(ctx, remote)
            tg.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        # The one real error (a full disk, the store down), not the task group around it, so
        # callers can tell an outage to wait out from a failure.
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
    finally:
        ledger.release("archive", remote.id, owner)
    return saved


async def _keep_claim(ctx: ServiceContext, video_id: str, work: anyio.CancelScope) -> None:
    while True:
        await anyio.sleep(RENEW_EVERY_S)
        if not ctx.ledger.renew("archive", video_id, ctx.instance_id, ARCHIVE_CLAIM_TTL_S):
            log.warning("the archive of %s was taken over by another instance; stopping here", video_id)
            work.cancel()
            return


async def _archive_claimed(ctx: ServiceContext, remote: RemoteVideo) -> list[Asset]:
    saved: list[Asset] = []
    variants = ["video"] + [v for v in ctx.settings.archive_variants if v != "video"]
    for variant in variants:
        existing = await anyio.to_thread.run_sync(
            functools.partial(library_asset, ctx, remote.id, variant, verify=False)
        )
        if existing is not None:
            saved.append(existing)
            continue
        try:
            saved.append(await fetch_variant(ctx, remote.id, variant))
        except (DiskFull, StoreError):
            raise  # the caller says so (a tool) or waits for space / the store and tries again (the watcher)
        except SoraError as exc:
            log.warning("could not archive %s of %s: %s", variant, remote.id, exc.message)
            if variant == "video":
                break
        except OSError as exc:  # a write into the library or a derive in a worker thread
            if (full := as_disk_full(exc)) is not None:
                raise full from None
            raise
    return saved


async def fetch_variant(ctx: ServiceContext, video_id: str, variant: str) -> Asset:
    """Download one variant (or derive it from the MP4) into the library and record it."""
    cached = await anyio.to_thread.run_sync(lambda: library_asset(ctx, video_id, variant))
    if cached is not None:
        return cached
    backend = await ctx.backend_of(video_id)
    wanted = cast(Variant, variant)  # the callers pass a variant name they checked (or the settings')
    # the owner's folder; with an S3 store, a temp file first, uploaded by _record
    dest = storing.staging_path(ctx, asset_path(private_dir(ctx.job_library(video_id)), video_id, variant))
    dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        result = await download(
            lambda offset: backend.open_content(video_id, wanted, offset=offset),
            dest,
            tmp_dir=ctx.settings.tmp_dir,
            expected_variant=variant,
            max_bytes=ctx.settings.max_asset_mb * 1024 * 1024,
        )
    except DiskFull:
        raise
    except Unsupported:
        if variant == "video":
            raise
        # The backend cannot serve this variant (or answers with the MP4): derive it locally.
        return await _derive(ctx, video_id, variant, dest)
    except SoraError as exc:
        raise _explain_failure(ctx, video_id, variant, exc) from None
    return await _record(ctx, video_id, variant, dest, result.size, result.sha256, derived=False)


def _explain_failure(ctx: ServiceContext, video_id: str, variant: str, exc: SoraError) -> SoraError:
    """Say plainly why a file cannot be had: expired on the backend, or gone from both places."""
    record = ctx.ledger.get(video_id)
    expires_at = record.expires_at if record is not None else None
    if _looks_expired(exc, expires_at):
        return expired_error(video_id, variant, expires_at)
    if isinstance(exc, NotFound) and record is not None and record.asset(variant) is not None:
        return NotFound(
            f"The archived {variant} of video {video_id} is missing or damaged in the library, and the backend "
            "no longer has the video to download it again",
            fix="Restore the file from a backup into the data directory, or remix/create the video again.",
        )
    return exc


async def _derive(ctx: ServiceContext, video_id: str, variant: str, dest: Path) -> Asset:
    video = await fetch_variant(ctx, video_id, "video")
    from sora_mcp.library.derive import derive_spritesheet, derive_thumbnail  # lazy: PyAV + Pillow

    maker = derive_thumbnail if variant == "thumbnail" else derive_spritesheet
    async with storing.stored_mp4(ctx, video.path) as mp4:
        result = await anyio.to_thread.run_sync(lambda: maker(mp4, dest, tmp_dir=ctx.settings.tmp_dir))
    return await _record(ctx, video_id, variant, dest, result.size, result.sha256, derived=True)


async def _record(
    ctx: ServiceContext, video_id: str, variant: str, dest: Path, size: int, sha: str, *, derived: bool
) -> Asset:
    if ctx.store is not None:  # `dest` is a temp file: stream it into the store, record s3://bucket/key
        location = await storing.upload(ctx, dest, video_id, variant, size, sha)
        ctx.ledger.add_asset(video_id, variant, location, size, sha, derived=derived)
        return _asset(video_id, variant, location, size, sha, derived, storing.asset_link(ctx, location))
    rel = dest.relative_to(ctx.settings.data_dir)
    ctx.ledger.add_asset(video_id, variant, str(rel), size, sha, derived=derived)
    return _asset(video_id, variant, dest, size, sha, derived)
