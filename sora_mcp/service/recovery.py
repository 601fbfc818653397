"""Restart safety: what a (re)starting server picks up from the ledger, and the watcher's retry loop.

At start-up the server follows every job it made that has not ended, archives completed jobs
whose MP4 never reached the library (the previous process died mid-download), and looks for
creates that were sent but never recorded (killed between the POST and its answer). `watch`
starts the background watcher for a job (once per job, in the service's task group); it
outlives a backend outage: transient errors back off and retry instead of dropping the job.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio

from sora_mcp.errors import BackendError, BackendUnavailable, DiskFull, NotFound, RateLimited, StoreError
from sora_mcp.models import RemotePage, RemoteVideo
from sora_mcp.principal import LOCAL_OWNER
from sora_mcp.service import waiting
from sora_mcp.service.archive import archive_soon, archived, fully_archived
from sora_mcp.service.context import ServiceContext
from sora_mcp.service.reading import refresh

log = logging.getLogger("sora_mcp.recovery")
PENDING_MAX_AGE_S = 24 * 3600
PENDING_CLAIM_TTL_S = 600.0
SWEEP_S = 5.0  # how often the watch sweep looks for jobs other instances made or left
CLAIMS_KEPT_S = 3600.0  # expired leases older than this are deleted by the sweep
# A create's job may carry a created_at a little before our send time (clock skew).
CLOCK_SLACK_S = 120
BACKOFF_START_S = 1.0
BACKOFF_MAX_S = 60.0
# A full disk is freed by the user at any moment: look again often (a stat and a write, no request).
DISK_FULL_BACKOFF_MAX_S = 10.0


def watch(ctx: ServiceContext, video_id: str) -> None:
    """Follow a job in the background until it ends (archiving it on completion), once per job."""
    if ctx.tasks is None or not ctx.settings.watch or video_id in ctx.watching:
        return
    ctx.watching.add(video_id)
    ctx.tasks.start_soon(_follow_once, ctx, video_id)


async def _follow_once(ctx: ServiceContext, video_id: str) -> None:
    try:
        await follow(ctx, video_id)
    finally:
        ctx.watching.discard(video_id)


def _transient(exc: BaseException) -> bool:
    return (
        isinstance(exc, (BackendUnavailable, RateLimited, DiskFull, StoreError)) or type(exc) is BackendError
    )


def _needs_archive(ctx: ServiceContext, video_id: str) -> bool:
    """Did a full disk stop this job's archive? (Other failures were logged and are not retried.)"""
    if video_id not in ctx.waiting_for_space:
        return False
    record = ctx.ledger.get(video_id)
    return record is not None and record.status == "completed" and not fully_archived(ctx.settings, record)


async def follow(ctx: ServiceContext, video_id: str) -> None:
    """Follow one job until it ends (archiving it on completion); retry through outages.

    A full disk is an outage too: the ledger write or the archive that failed is tried again
    (every few seconds) until space returns, so nothing the watcher owes is dropped.
    """
    backoff, cap = BACKOFF_START_S, BACKOFF_MAX_S
    while True:
        try:
            await waiting.follow_until_done(ctx, video_id)
            await archived(ctx, video_id)
            if _needs_archive(ctx, video_id):
                # Archiving now raises DiskFull again while the disk is still full.
                await refresh(ctx, video_id, archive_when="now")
                ctx.waiting_for_space.discard(video_id)
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


async def resume(ctx: ServiceContext) -> None:
    """The start-up pass: find lost creates, then watch unfinished and unarchived jobs; then keep
    looking for jobs other instances on the same ledger made or left (`shared.keep_watching`)."""
    ledger = ctx.ledger
    try:
        await reconcile_pending(ctx)
    except Exception as exc:  # noqa: BLE001 - start-up must go on whatever the backend says
        log.info("could not look for unrecorded creates: %s", getattr(exc, "message", type(exc).__name__))
    handed: set[str] = set()
    for record in ledger.unfinished():
        if record.kind != "external":
            handed.add(record.id)
            watch(ctx, record.id)
    for record in ledger.unarchived():
        handed.add(record.id)
        watch(ctx, record.id)
    # [cluster] the sweep: jobs of other instances (and of one that died) are followed here too
    await keep_watching(ctx, handed)


async def keep_watching(ctx: ServiceContext, handed: set[str]) -> None:
    """The watch sweep: every SWEEP_S, follow the unfinished and unarchived jobs of the ledger
    nobody here follows yet (made by another instance on the same ledger, or left by one that
    died): running ones are followed (polled in turn), completed ones not archived are archived
    (claimed), each once per process; long-expired claims are deleted."""
    while True:
        await anyio.sleep(SWEEP_S)
        try:
            ledger = ctx.ledger
            for record in ledger.unfinished():
                if record.id not in handed and record.kind != "external" and record.id not in ctx.watching:
                    handed.add(record.id)
                    watch(ctx, record.id)
            for record in ledger.unarchived():
                # Completed: archive it (claimed), no poll needed; unless it is being archived here.
                if (
                    record.id not in handed
                    and record.id not in ctx.watching
                    and record.id not in ctx.archiving
                ):
                    handed.add(record.id)
                    archive_soon(
                        ctx, RemoteVideo(id=record.id, status="completed", expires_at=record.expires_at)
                    )
            ledger.sweep_claims(CLAIMS_KEPT_S)
        except Exception as exc:  # noqa: BLE001 - the sweep must outlive a database outage
            log.info("watch sweep skipped: %s", getattr(exc, "message", type(exc).__name__))


async def reconcile_pending(ctx: ServiceContext) -> int:
    """Record creates that reached the backend but not the ledger; return how many were found."""
    ledger = ctx.ledger
    pending = [p for p in ledger.unresolved_pending(PENDING_MAX_AGE_S) if _create_prompt(p)]
    if not pending:
        return 0
    found = 0
    pages: dict[str | None, RemotePage] = {}
    for entry in pending:
        # [cluster] one instance reconciles each lost create (others starting at once skip it)
        if not ledger.claim("pending", entry["key"], ctx.instance_id, PENDING_CLAIM_TTL_S):
            continue
        meta = entry["meta"]
        name = meta.get("backend") if meta.get("backend") in ctx.backends.names() else None
        backend = await ctx.backends.get(name)  # the backend the create went to
        if name not in pages:
            pages[name] = await backend.list(limit=100, order="desc")
        match = _match(ctx, entry, pages[name].data)
        if match is None:
            continue
        ledger.record_job(
            match,
            backend=backend.dialect,
            prompt_sent=meta["prompt"],
            kind="create",
            idempotency_key=entry["key"],
            base_url_host=backend.base_url if name else None,
            owner=str(meta.get("owner") or LOCAL_OWNER),  # the user whose create it was
        )
        ledger.resolve_pending(entry["key"], match.id)
        log.info("found the create %s that a previous run sent but never recorded", match.id)
        watch(ctx, match.id)
        found += 1
    return found


def _create_prompt(entry: dict[str, Any]) -> str | None:
    meta = entry.get("meta") or {}
    return meta.get("prompt") if meta.get("kind") == "create" else None


def _match(ctx: ServiceContext, entry: dict[str, Any], remote: list[RemoteVideo]) -> RemoteVideo | None:
    meta = entry["meta"]
    earliest = int(entry["sent_at"]) - CLOCK_SLACK_S
    for video in remote:
        if video.prompt != meta["prompt"] or (video.created_at is not None and video.created_at < earliest):
            continue
        if meta.get("model") and video.model and video.model != meta["model"]:
            continue
        known = ctx.ledger.get(video.id)
        if known is None or known.kind == "external":
            return video
    return None
