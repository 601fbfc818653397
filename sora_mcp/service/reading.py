"""Reading jobs: ask the backend now, record what it says, archive what completed; downloads.

A completed job is archived before answering (`archive="now"`) or in the background
(`"later"`: the poller's way, so no waiter waits on a download). A job the backend no longer
has is answered from the ledger.
"""

from __future__ import annotations

from typing import Any, Literal

import anyio

from sora_mcp.errors import InvalidInput, NotFound, NotReady
from sora_mcp.models import Asset, Job
from sora_mcp.service import archive
from sora_mcp.service.context import ServiceContext
from sora_mcp.service.jobs import SUGGESTED_WAIT_S, job_from_record, job_from_remote, next_step, record_assets
from sora_mcp.service.requests import check_id

ArchiveWhen = Literal["now", "later", "no"]


async def refresh(
    ctx: ServiceContext, video_id: str, *, archive_when: ArchiveWhen = "now"
) -> tuple[Job, int | None]:
    """Ask the backend for the job now; update the ledger; archive it when completed: before
    answering ("now"), or in the background ("later": `archive.archived` waits for it)."""
    check_id(video_id)
    ledger = ctx.ledger
    backend = await ctx.backend_of(video_id)
    try:
        remote = await backend.retrieve(video_id)
    except NotFound:
        record = ledger.get(video_id)
        if record is None:
            raise NotFound(
                f"No video with id '{video_id}' on the backend or in the library",
                fix="Check the id with list_videos.",
            ) from None
        if not record.terminal:
            # It vanished before it ended: no watcher should wait on it forever.
            ledger.mark_deleted(video_id, local_files_deleted=False)
            record = ledger.get(video_id) or record
        return job_from_record(record, ctx.settings.data_dir), None
    ledger.update_status(remote, polled=True)
    record = ledger.get(video_id)
    # The ledger says what is archived; files themselves are verified when downloaded.
    if (
        remote.status == "completed"
        and archive_when != "no"
        and not archive.fully_archived(ctx.settings, record)
    ):
        if archive_when == "now":
            await archive.archive(ctx, remote)
            record = ledger.get(video_id)
        else:
            archive.archive_soon(ctx, remote)
    job = job_from_remote(remote, record, backend=backend.dialect, data_dir=ctx.settings.data_dir)
    return job, remote.poll_after_ms


def with_library(ctx: ServiceContext, job: Job) -> Job:
    """The job with its archived files as the ledger has them now."""
    record = ctx.ledger.get(job.id)
    if record is None:
        return job
    fresh = job.model_copy(update={"assets": record_assets(record, ctx.settings.data_dir)})
    fresh.next_step = next_step(fresh)
    return fresh


async def download(ctx: ServiceContext, video_id: str, variant: str = "video") -> Asset:
    """The archived file of a completed job, downloaded (or derived) into the library first if needed."""
    check_id(video_id)
    if variant not in ("video", "thumbnail", "spritesheet"):
        raise InvalidInput(f"Unknown variant '{variant}'", fix="Use video, thumbnail or spritesheet.")
    ledger = ctx.ledger
    # Hashing a large archived file must not stall the event loop.
    cached = await anyio.to_thread.run_sync(lambda: archive.library_asset(ctx, video_id, variant))
    if cached is not None:
        return cached
    job = (await refresh(ctx, video_id, archive_when="no"))[0]
    if job.status != "completed":
        record = ledger.get(video_id)
        if job.status in ("queued", "in_progress"):
            raise NotReady(
                f"Video {video_id} is {job.status} ({job.progress}%), so there is nothing to download yet",
                fix=f"Call get_status(video_id='{video_id}', wait_seconds={SUGGESTED_WAIT_S:g}) and download when it "
                "is completed.",
            )
        if job.status == "expired":
            raise archive.expired_error(video_id, variant, job.expires_at)
        if record is None or not record.assets:
            raise NotReady(
                f"Video {video_id} is {job.status}; it has no downloadable asset",
                fix="Create a new video with create_video.",
            )
    async with ctx.archive_lock(video_id):
        return await archive.fetch_variant(ctx, video_id, variant)


async def apply_webhook(ctx: ServiceContext, video_id: str, data: dict[str, Any]) -> bool:
    """A verified completion webhook: record what it says and archive at once, with no poll.
    False (and nothing changed) when the job is not one this library knows."""
    from sora_mcp.backends import normalize_video

    ledger = ctx.ledger
    if ledger.get(video_id) is None:
        return False
    backend = await ctx.backend_of(video_id)
    remote = normalize_video({**data, "id": video_id}, dialect=backend.known_dialect)
    ledger.update_status(remote)
    if remote.status == "completed":
        archive.archive_soon(ctx, remote)
    return True
