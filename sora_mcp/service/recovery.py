"""Restart safety: what a (re)starting server picks up from the ledger, and the watcher's retry loop.

At start-up the server follows every job it made that has not ended, archives completed jobs
whose MP4 never reached the library (the previous process died mid-download), and looks for
creates that were sent but never recorded (killed between the POST and its answer). The
watcher outlives a backend outage: transient errors back off and retry instead of dropping
the job.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import anyio

from sora_mcp.errors import BackendError, BackendUnavailable, DiskFull, NotFound, RateLimited
from sora_mcp.library.s3 import StoreError
from sora_mcp.service import waiting

if TYPE_CHECKING:
    from sora_mcp.service.core import VideoService

log = logging.getLogger("sora_mcp.recovery")
PENDING_MAX_AGE_S = 24 * 3600
# A create's job may carry a created_at a little before our send time (clock skew).
CLOCK_SLACK_S = 120
BACKOFF_START_S = 1.0
BACKOFF_MAX_S = 60.0
# A full disk is freed by the user at any moment: look again often (a stat and a write, no request).
DISK_FULL_BACKOFF_MAX_S = 10.0


def _transient(exc: BaseException) -> bool:
    return (
        isinstance(exc, (BackendUnavailable, RateLimited, DiskFull, StoreError)) or type(exc) is BackendError
    )


def _needs_archive(svc: VideoService, video_id: str) -> bool:
    """Did a full disk stop this job's archive? (Other failures were logged and are not retried.)"""
    if video_id not in svc.waiting_for_space:
        return False
    record = svc._ledger().get(video_id)
    return record is not None and record.status == "completed" and not svc._fully_archived(record)


async def follow(svc: VideoService, video_id: str) -> None:
    """Follow one job until it ends (archiving it on completion); retry through outages.

    A full disk is an outage too: the ledger write or the archive that failed is tried again
    (every few seconds) until space returns, so nothing the watcher owes is dropped.
    """
    backoff, cap = BACKOFF_START_S, BACKOFF_MAX_S
    while True:
        try:
            await waiting.follow_until_done(svc, video_id)
            await svc.archived(video_id)
            if _needs_archive(svc, video_id):
                # Archiving now raises DiskFull again while the disk is still full.
                await svc.refresh(video_id, archive="now")
                svc.waiting_for_space.discard(video_id)
            return
        except NotFound:
            log.info("watcher: the backend no longer has %s", video_id)
            return
        except Exception as exc:  # noqa: BLE001 - the watcher must never take the server down
            if not _transient(exc):
                log.warning(
                    "watcher stopped following %s: %s", video_id, getattr(exc, "message", type(exc).__name__)
                )
                return
            cap = DISK_FULL_BACKOFF_MAX_S if isinstance(exc, DiskFull) else BACKOFF_MAX_S
            log.info(
                "watcher: %s %s (%s); retrying in %.0f s",
                video_id,
                "waits for disk space" if isinstance(exc, DiskFull) else "unreachable for now",
                getattr(exc, "message", ""),
                backoff,
            )
        await anyio.sleep(backoff)
        backoff = min(backoff * 2, cap)


async def resume(svc: VideoService) -> None:
    """The start-up pass: find lost creates, then watch unfinished and unarchived jobs."""
    ledger = svc._ledger()
    try:
        await reconcile_pending(svc)
    except Exception as exc:  # noqa: BLE001 - start-up must go on whatever the backend says
        log.info("could not look for unrecorded creates: %s", getattr(exc, "message", type(exc).__name__))
    for record in ledger.unfinished():
        if record.kind != "external":
            svc._watch(record.id)
    for record in ledger.unarchived():
        svc._watch(record.id)


async def reconcile_pending(svc: VideoService) -> int:
    """Record creates that reached the backend but not the ledger; return how many were found."""
    ledger = svc._ledger()
    pending = [p for p in ledger.unresolved_pending(PENDING_MAX_AGE_S) if _create_prompt(p)]
    if not pending:
        return 0
    found = 0
    pages: dict[str | None, Any] = {}
    for entry in pending:
        meta = entry["meta"]
        name = meta.get("backend") if meta.get("backend") in svc.backend_names() else None
        backend = await svc.backend(name)  # the backend the create went to
        if name not in pages:
            pages[name] = await backend.list(limit=100, order="desc")
        match = _match(svc, entry, pages[name].data)
        if match is None:
            continue
        ledger.record_job(
            match,
            backend=backend.dialect,
            prompt_sent=meta["prompt"],
            kind="create",
            idempotency_key=entry["key"],
            base_url_host=backend.base_url if name else None,
        )
        ledger.resolve_pending(entry["key"], match.id)
        log.info("found the create %s that a previous run sent but never recorded", match.id)
        svc._watch(match.id)
        found += 1
    return found


def _create_prompt(entry: dict[str, Any]) -> str | None:
    meta = entry.get("meta") or {}
    return meta.get("prompt") if meta.get("kind") == "create" else None


def _match(svc: VideoService, entry: dict[str, Any], remote: list[Any]) -> Any:
    meta = entry["meta"]
    earliest = int(entry["sent_at"]) - CLOCK_SLACK_S
    for video in remote:
        if video.prompt != meta["prompt"] or (video.created_at is not None and video.created_at < earliest):
            continue
        if meta.get("model") and video.model and video.model != meta["model"]:
            continue
        known = svc._ledger().get(video.id)
        if known is None or known.kind == "external":
            return video
    return None


async def archive_quietly(svc: VideoService, remote: Any) -> bool:
    """Archive in the background (from list_videos, the watcher's poll); a failure is logged, never
    raised into the server. True when a full disk stopped it, so the watcher tries again later."""
    try:
        await svc.archive(remote)
    except (DiskFull, StoreError) as exc:  # an outage of the disk or the S3 store: the watcher retries
        log.warning("background archive of %s waits for disk space or the store: %s", remote.id, exc.message)
        return True
    except Exception as exc:  # noqa: BLE001 - a background task must not end the server
        log.warning(
            "background archive of %s failed: %s", remote.id, getattr(exc, "message", type(exc).__name__)
        )
    return False
