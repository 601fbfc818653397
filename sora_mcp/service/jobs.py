"""Turning backend answers and ledger rows into the `Job` the front ends return."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from sora_mcp.library.records import JobRecord
from sora_mcp.models import Asset, Job, JobError, Quote, RemoteVideo, Status

# The wait suggested to agents: under the ~60 s a client such as Claude Desktop allows one tool call.
SUGGESTED_WAIT_S = 45.0


def next_step(job: Job, wait: float = SUGGESTED_WAIT_S) -> str:
    vid = job.id
    match job.status:
        case "queued" | "in_progress":
            return (
                f"Call get_status(video_id='{vid}', wait_seconds={wait:g}); call get_status again with the same wait "
                "until all_done (the job keeps running meanwhile)."
            )
        case "completed":
            if any(a.variant == "video" for a in job.assets):
                return (
                    "Done and archived: the files' paths are in assets. download_asset(destination=...) copies "
                    "one where the user wants it; remix_video changes the clip."
                )
            return f"Call download_asset(video_id='{vid}') to save the MP4, or remix_video to change it."
        case "failed":
            return "The generation failed (see error); change the prompt or settings and call create_video again."
        case "deleted":
            return (
                "Deleted on the backend. Archived files, if any, stay in the library unless you deleted them."
            )
        case "expired":
            return "The backend's copy expired. Archived files, if any, are still in the library."
        case _:
            return "The job ended without a video; call create_video to try again."


def record_assets(record: JobRecord | None, data_dir: Path | None) -> list[Asset]:
    """The record's archived files, with paths made absolute (they are stored relative to the data dir)."""
    if record is None:
        return []
    out = []
    for a in getattr(record, "assets", []) or []:
        asset = Asset.model_validate(a, from_attributes=True)
        if data_dir is not None and not Path(asset.path).is_absolute() and "://" not in asset.path:
            asset.path = str(data_dir / asset.path)
        out.append(asset)
    return out


def record_quote(record: JobRecord | None) -> Quote | None:
    if record is None or record.model is None:
        return None
    usd, note = record.cost_usd, record.cost_note
    if usd is None and note is None:
        return None
    return Quote(
        model=record.model, size=record.size or "", seconds=record.seconds or "", usd=usd, note=note or ""
    )


def job_from_remote(
    remote: RemoteVideo,
    record: JobRecord | None = None,
    *,
    backend: str | None = None,
    data_dir: Path | None = None,
) -> Job:
    """Merge what the backend says now with what the ledger remembers."""
    job = Job(
        id=remote.id,
        status=remote.status,
        progress=max(0, min(100, remote.progress if remote.status != "completed" else 100)),
        model=remote.model or getattr(record, "model", None),
        size=remote.size or getattr(record, "size", None),
        seconds=remote.seconds or getattr(record, "seconds", None),
        prompt=getattr(record, "prompt_sent", None) or remote.prompt,
        remixed_from_video_id=remote.remixed_from_video_id or getattr(record, "remixed_from", None),
        extended_from_video_id=getattr(record, "extended_from", None),
        created_at=remote.created_at or getattr(record, "created_at", None),
        completed_at=remote.completed_at or getattr(record, "completed_at", None),
        expires_at=remote.expires_at or getattr(record, "expires_at", None),
        error=remote.error,
        backend=backend or getattr(record, "backend", None),
        quote=record_quote(record),
        assets=record_assets(record, data_dir),
        where="both" if record is not None else "remote",
    )
    job.next_step = next_step(job)
    return job


def job_from_record(record: JobRecord, data_dir: Path | None = None) -> Job:
    """A job known only to the ledger (backend unreachable, or no longer has it)."""
    error = None
    if getattr(record, "error_code", None) or getattr(record, "error_message", None):
        error = JobError(code=record.error_code or "error", message=record.error_message or "")
    # The ledger keeps the normalised status words only (`models.Status`).
    status = cast(Status, record.status) if not getattr(record, "deleted_remote", False) else "deleted"
    job = Job(
        id=record.id,
        status=status,
        progress=int(record.progress or (100 if status == "completed" else 0)),
        model=record.model,
        size=record.size,
        seconds=record.seconds,
        prompt=record.prompt_sent,
        remixed_from_video_id=record.remixed_from,
        extended_from_video_id=getattr(record, "extended_from", None),
        created_at=record.created_at,
        completed_at=record.completed_at,
        expires_at=record.expires_at,
        error=error,
        backend=record.backend,
        quote=record_quote(record),
        assets=record_assets(record, data_dir),
        where="local",
    )
    job.next_step = next_step(job)
    return job
