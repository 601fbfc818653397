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

import hashlib
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from sora_mcp.errors import DiskFull, NotFound, SoraError, Unsupported, as_disk_full
from sora_mcp.library import asset_path, download
from sora_mcp.library.s3 import StoreError
from sora_mcp.library.stores import fetch_to_temp, is_s3_location, store_file
from sora_mcp.library.tempfiles import new_temp_name
from sora_mcp.models import VARIANT_MIME, Asset, Job, RemoteVideo

if TYPE_CHECKING:
    from sora_mcp.service.core import VideoService

log = logging.getLogger("sora_mcp.archive")
# Short, so a restarted server (a new owner) takes over a dead one's claim soon; renewed meanwhile.
ARCHIVE_CLAIM_TTL_S = 20.0
RENEW_EVERY_S = 5.0
CLAIM_RETRY_S = 1.0


class AssetExpired(NotFound):
    """The backend deleted the job's files (its link expired) before sora-mcp archived them."""

    code = "expired"


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
        variant=variant,
        path=str(path),
        mime_type=VARIANT_MIME[variant],
        size_bytes=size,
        sha256=sha256,
        derived=derived,
        url=url,
    )


def asset_link(svc: VideoService, location: str) -> str | None:
    """A presigned link for a file in the S3 store (None for a local file)."""
    store = svc.store
    if store is None or not is_s3_location(location):
        return None
    try:
        return store.presigned_url(location, svc.settings.asset_url_ttl_s)
    except SoraError:  # archived into another bucket than the one configured now: no link to give
        return None


def with_links(svc: VideoService, job: Job) -> Job:
    """The job with a fresh presigned link on each file kept in the S3 store."""
    assets = [a.model_copy(update={"url": asset_link(svc, a.path)}) for a in job.assets]
    return job.model_copy(update={"assets": assets})


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def library_asset(svc: VideoService, video_id: str, variant: str, *, verify: bool = True) -> Asset | None:
    """The archived file, if it is present and intact (size and sha256 as recorded)."""
    for a in svc._ledger().assets(video_id):
        if a.variant != variant:
            continue
        if is_s3_location(a.path):  # kept in the S3 store: there when the object has the recorded size
            if svc.store is None or svc.store.size(a.path) != a.size_bytes:
                return None
            return _asset(
                video_id, variant, a.path, a.size_bytes, a.sha256, a.derived, asset_link(svc, a.path)
            )
        path = svc.settings.data_dir / a.path
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


async def archive_job(svc: VideoService, remote: RemoteVideo) -> list[Asset]:
    """Save every configured variant not yet in the library. Failures are logged, not raised."""
    ledger, owner = svc._ledger(), svc.instance_id
    while not ledger.claim("archive", remote.id, owner, ARCHIVE_CLAIM_TTL_S):
        # Another instance is archiving it: done once the ledger says so, or ours when its claim lapses.
        if svc._fully_archived(ledger.get(remote.id)):
            return []
        await anyio.sleep(CLAIM_RETRY_S)
    saved: list[Asset] = []
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_keep_claim, svc, remote.id, tg.cancel_scope)
            saved = await _archive_claimed(svc, remote)
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


async def _keep_claim(svc: VideoService, video_id: str, work: anyio.CancelScope) -> None:
    while True:
        await anyio.sleep(RENEW_EVERY_S)
        if not svc._ledger().renew("archive", video_id, svc.instance_id, ARCHIVE_CLAIM_TTL_S):
            log.warning("the archive of %s was taken over by another instance; stopping here", video_id)
            work.cancel()
            return


async def _archive_claimed(svc: VideoService, remote: RemoteVideo) -> list[Asset]:
    saved: list[Asset] = []
    variants = ["video"] + [v for v in svc.settings.archive_variants if v != "video"]
    for variant in variants:
        existing = await anyio.to_thread.run_sync(
            lambda v=variant: library_asset(svc, remote.id, v, verify=False)
        )
        if existing is not None:
            saved.append(existing)
            continue
        try:
            saved.append(await fetch_variant(svc, remote.id, variant))
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


async def fetch_variant(svc: VideoService, video_id: str, variant: str) -> Asset:
    """Download one variant (or derive it from the MP4) into the library and record it."""
    cached = await anyio.to_thread.run_sync(lambda: library_asset(svc, video_id, variant))
    if cached is not None:
        return cached
    backend = await svc.backend(svc.job_backend(video_id))
    dest = asset_path(svc.settings.library_dir, video_id, variant)
    if svc.store is not None:  # S3 store: download to the temp folder, then upload (see _record)
        dest = svc.settings.tmp_dir / new_temp_name(dest.suffix)
    dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        result = await download(
            lambda offset: backend.open_content(video_id, variant, offset=offset),
            dest,
            tmp_dir=svc.settings.tmp_dir,
            expected_variant=variant,
            max_bytes=svc.settings.max_asset_mb * 1024 * 1024,
        )
    except DiskFull:
        raise
    except Unsupported:
        if variant == "video":
            raise
        # The backend cannot serve this variant (or answers with the MP4): derive it locally.
        return await _derive(svc, video_id, variant, dest)
    except SoraError as exc:
        raise _explain_failure(svc, video_id, variant, exc) from None
    return await _record(svc, video_id, variant, dest, result.size, result.sha256, derived=False)


def _explain_failure(svc: VideoService, video_id: str, variant: str, exc: SoraError) -> SoraError:
    """Say plainly why a file cannot be had: expired on the backend, or gone from both places."""
    record = svc._ledger().get(video_id)
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


async def _derive(svc: VideoService, video_id: str, variant: str, dest: Path) -> Asset:
    video = await fetch_variant(svc, video_id, "video")
    from sora_mcp.library.derive import derive_spritesheet, derive_thumbnail  # lazy: PyAV + Pillow

    maker = derive_thumbnail if variant == "thumbnail" else derive_spritesheet
    mp4 = Path(video.path)
    if svc.store is not None and is_s3_location(video.path):
        mp4 = await anyio.to_thread.run_sync(
            fetch_to_temp, svc.store, video.path, svc.settings.tmp_dir, ".mp4"
        )
    try:
        result = await anyio.to_thread.run_sync(lambda: maker(mp4, dest, tmp_dir=svc.settings.tmp_dir))
    finally:
        if mp4 != Path(video.path):
            mp4.unlink(missing_ok=True)
    return await _record(svc, video_id, variant, dest, result.size, result.sha256, derived=True)


async def _record(
    svc: VideoService, video_id: str, variant: str, dest: Path, size: int, sha: str, *, derived: bool
) -> Asset:
    if svc.store is not None:  # `dest` is a temp file: stream it into the store, record s3://bucket/key
        stored = await store_file(
            svc.store, dest, video_id, variant, VARIANT_MIME[variant], size=size, sha256=sha
        )
        svc._ledger().add_asset(video_id, variant, stored.location, size, sha, derived=derived)
        return _asset(
            video_id, variant, stored.location, size, sha, derived, asset_link(svc, stored.location)
        )
    rel = dest.relative_to(svc.settings.data_dir)
    svc._ledger().add_asset(video_id, variant, str(rel), size, sha, derived=derived)
    return _asset(video_id, variant, dest, size, sha, derived)
