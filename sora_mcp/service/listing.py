"""list_videos and delete_video: the backend's view merged with the library's.

Listing pulls the backend's list (bounded), upserts it into the ledger, then answers a page
from the ledger so the cursor is stable and filters work; each entry says whether it is on
the backend only (`remote`), in the library only (`local`), or both. When the backend cannot
be reached the page comes from the ledger alone, and says so.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Literal

from sora_mcp.errors import BackendUnavailable, InvalidInput, NotFound, SoraError, Unsupported
from sora_mcp.library.stores import is_s3_location
from sora_mcp.models import DeleteResult, Job, JobPage
from sora_mcp.service.archive import archive_soon
from sora_mcp.service.context import ServiceContext
from sora_mcp.service.jobs import job_from_record, next_step
from sora_mcp.service.requests import unknown_video
from sora_mcp.service.storing import delete_stored

log = logging.getLogger("sora_mcp.listing")
REMOTE_SCAN_PAGES = 5
REMOTE_PAGE_SIZE = 100
MAX_TEXT = 1000  # characters of a prompt search (list_videos text=)


async def _scan_remote(ctx: ServiceContext) -> tuple[set[str] | None, bool, str | None]:
    """Ids the backends list (None when the default one is unreachable), whether the scan was
    complete, and a note. Backends named in the backends file are listed after the default one;
    one that cannot be listed adds a note, and its jobs come from the library."""
    seen, complete, note = await _scan_one(ctx, None)
    for name in ctx.backends.names()[1:]:
        try:
            more, done, _ = await _scan_one(ctx, name)
        except SoraError as exc:
            complete = False
            said = f"Backend {name} could not be listed ({exc.message}); its jobs are shown from the library."
            note = f"{note} {said}" if note else said
            continue
        seen |= more
        complete = complete and done
    return seen, complete, note


async def _scan_one(ctx: ServiceContext, name: str | None) -> tuple[set[str], bool, str | None]:
    backend = await ctx.backends.get(name)
    host = backend.base_url if name else None
    ledger = ctx.ledger
    seen: set[str] = set()
    after = None
    for _ in range(REMOTE_SCAN_PAGES):
        page = await backend.list(limit=REMOTE_PAGE_SIZE, after=after, order="desc")
        for item in page.data:
            seen.add(item.id)
            ledger.update_status(item, base_url_host=host)
            record = ledger.get(item.id)
            if (
                item.status == "completed"
                and record is not None
                and record.kind != "external"
                and record.asset("video") is None
                and not record.local_files_deleted
            ):
                archive_soon(ctx, item)
        if not page.has_more or not page.data:
            return seen, True, None
        after = page.last_id or page.data[-1].id
    return seen, False, None


async def list_jobs(
    ctx: ServiceContext,
    *,
    limit: int,
    after: str | None,
    order: str,
    status: str | None,
    model: str | None,
    since: int | None,
    text: str | None,
) -> JobPage:
    if not 1 <= int(limit) <= 100:
        raise InvalidInput(f"limit {limit} is out of range", fix="Use a limit from 1 to 100.")
    if order not in ("asc", "desc"):
        raise InvalidInput(f"order '{order}' is not valid", fix="Use 'desc' (newest first) or 'asc'.")
    if text is not None and len(text) > MAX_TEXT:
        # SQLite refuses LIKE patterns past 50,000 bytes ("pattern too complex"); no prompt search needs this much
        raise InvalidInput(
            f"text is {len(text)} characters long",
            fix=f"Search with at most {MAX_TEXT} characters "
            "of the prompt (a few distinctive words are enough).",
        )
    direction: Literal["asc", "desc"] = "asc" if order == "asc" else "desc"
    note = None
    try:
        seen, complete, note = await _scan_remote(ctx)
    except (BackendUnavailable, Unsupported) as exc:
        seen, complete = None, False
        note = f"The backend could not be listed ({exc.message}); showing the local library only."
    except SoraError as exc:
        seen, complete = None, False
        note = f"The backend's list failed ({exc.message}); showing the local library only."
    ledger = ctx.ledger
    try:
        records, next_after = ledger.list_jobs(
            status=status,
            model=model,
            since=since,
            text=text,
            limit=int(limit),
            after=after,
            order=direction,
            owner=ctx.user.owner_filter,  # a user lists only their own jobs
        )
    except KeyError:
        raise InvalidInput(
            f"Unknown cursor '{after}'",
            fix="Pass the next_after value from the previous page, "
            "or omit after to start from the beginning.",
        ) from None
    jobs: list[Job] = []
    for rec in records:
        job = job_from_record(rec, ctx.settings.data_dir)
        external = getattr(rec, "kind", "") == "external"
        if seen is None:
            job.where = "remote" if external else "local"
        elif rec.id in seen:
            job.where = "remote" if external else "both"
        elif complete or getattr(rec, "deleted_remote", False):
            job.where = "local"
        else:
            job.where = "remote" if external else "both"
        if seen is not None and rec.id not in seen and complete and job.status not in ("deleted",):
            job.next_step = (
                "The backend no longer has this job; its archived files (assets) are in the library."
                if job.assets
                else "The backend no longer has this job and nothing of it was archived."
            )
        else:
            job.next_step = next_step(job)
        jobs.append(job)
    return JobPage(data=jobs, next_after=next_after, has_more=next_after is not None, note=note)


async def delete_job(ctx: ServiceContext, video_id: str, *, delete_local_files: bool) -> DeleteResult:
    ledger = ctx.ledger
    record = ledger.get(video_id)
    backend = await ctx.backend_of(video_id)
    note = None
    deleted = False
    try:
        deleted = await backend.delete(video_id)
    except Unsupported as exc:
        note = f"{exc.message}; the local record is marked deleted (the backend keeps it until it expires)."
    except NotFound:
        if record is None:
            raise unknown_video(video_id) from None
        note = "The backend no longer had this video; the local record is marked deleted."
    if record is None and not deleted:
        return DeleteResult(id=video_id, deleted=False, note=note)
    local_deleted = False
    if record is not None:
        if delete_local_files:
            for a in ledger.assets(video_id):
                if is_s3_location(a.path):  # an object in the S3 store
                    await delete_stored(ctx, video_id, a.path)
                    continue
                (ctx.settings.data_dir / a.path).unlink(missing_ok=True)
            folder = _asset_folder(ctx, video_id)
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
            ledger.remove_assets(video_id)
            local_deleted = True
        ledger.mark_deleted(video_id, local_files_deleted=local_deleted)
        if not delete_local_files and record.assets:
            keep = "Archived files are kept in the library; pass delete_local_files=true to remove them too."
            note = f"{note} {keep}" if note else keep
    return DeleteResult(id=video_id, deleted=deleted, local_files_deleted=local_deleted, note=note)


def _asset_folder(ctx: ServiceContext, video_id: str) -> Path | None:
    from sora_mcp.library import asset_path

    library = ctx.job_library(video_id)  # the owner's folder
    folder = asset_path(library, video_id, "video").parent
    lib = library.resolve()
    return folder if folder.resolve().parent == lib else None
