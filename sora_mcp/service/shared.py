"""Work shared by several instances on one ledger: whose turn it is to poll a job, and the watch sweep.

Polling: a job's poll turn is a lease in the ledger, `("poll", video_id)`, held until the job's
next poll is due. The instance that takes it asks the backend and sets the lease to the
interval the answer asked for (a job that ended keeps it for `ENDED_HOLD_S`, so the others read
the ending instead of asking again). Another instance that finds the lease held answers from
the ledger, which the holder has just written, and looks again a little after the lease ends
(`LOSER_LAG_S`; at least once an interval, as a lease also covers the poll in flight): so the instance that polled keeps its turn while it lives, and when it dies
its lease lapses within one interval and another takes over. Its own lease never stops an
instance (its schedule already spaces its polls, and a wait that starts after a job ended asks
the backend again, as on one instance). On a single instance (SQLite) polling is as before, at
two small writes per poll.

A job whose completion another instance recorded is archived here too if need be:
`archive_soon` claims the archive, so it waits while the other instance archives and takes
over when that one's claim lapses.

The sweep (`keep_watching`) looks at the ledger every `SWEEP_S` for jobs nobody here follows
(made by another instance, or left by one that died): running ones are followed (polled in
turn), completed ones not archived are archived (claimed); each once per process.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

import anyio

from sora_mcp.config import Settings
from sora_mcp.library import Ledger
from sora_mcp.models import Job, RemoteVideo
from sora_mcp.service.jobs import job_from_record


class VideoService(Protocol):
    """What of the service this module uses (a protocol: it stays out of the service's import cycle)."""

    settings: Settings
    instance_id: str

    def _ledger(self) -> Ledger: ...

    def _fully_archived(self, record: Any) -> bool: ...

    def archive_soon(self, remote: RemoteVideo) -> None: ...

    def archiving(self, video_id: str) -> bool: ...

    def following(self, video_id: str) -> bool: ...

    def _watch(self, video_id: str) -> None: ...


log = logging.getLogger("sora_mcp.shared")

POLL = "poll"
LOSER_LAG_S = 0.25  # after the lease ends: the holder polls at its end, the others read just after
MIN_TURN_S = 0.1
IN_FLIGHT_S = 10.0  # how long a poll may take before another instance may poll the job instead
ENDED_HOLD_S = 75.0  # as waiting.ENDED_KEEP_S: waiters elsewhere read the ending, not the backend
SWEEP_S = 5.0
CLAIMS_KEPT_S = 3600.0  # expired leases older than this are deleted by the sweep


def take_poll_turn(svc: VideoService, video_id: str, expect_s: float) -> tuple[Job, float] | None:
    """None when this instance polls the job now (its lease, for `expect_s`); otherwise the job
    as the ledger has it and how long until the next look (another instance holds the turn)."""
    ledger = svc._ledger()
    expect_s = max(expect_s, MIN_TURN_S)
    # Held while the poll is in flight too (a loaded instance may take seconds to send it); set
    # to the real interval once it is answered (`next_poll_in`).
    if ledger.claim(POLL, video_id, svc.instance_id, expect_s + IN_FLIGHT_S):
        return None
    record = ledger.get(video_id)
    if record is None:  # nothing shared to answer from (a job the ledger never saw): ask
        return None
    expiry = ledger.lease_expiry(POLL, video_id) or time.time()
    if record.status == "completed" and not svc._fully_archived(record):
        # Claimed by `archive_job`: waits while the instance that saw it end archives it.
        svc.archive_soon(RemoteVideo(id=record.id, status="completed", expires_at=record.expires_at))
    # Look again when the lease ends, but at least once an interval: a poll in flight holds it longer.
    wait = min(max(0.0, expiry - time.time()), expect_s)
    return job_from_record(record, svc.settings.data_dir), wait + LOSER_LAG_S


def next_poll_in(svc: VideoService, video_id: str, interval_s: float, *, ended: bool) -> None:
    """After this instance's poll: hold the turn until the next poll is due (longer once the job ended)."""
    ttl = ENDED_HOLD_S if ended else max(interval_s, MIN_TURN_S)
    svc._ledger().renew(POLL, video_id, svc.instance_id, ttl)


async def keep_watching(svc: VideoService, handed: set[str]) -> None:
    """Every SWEEP_S, follow the unfinished and unarchived jobs of the ledger nobody here follows yet."""
    while True:
        await anyio.sleep(SWEEP_S)
        try:
            ledger = svc._ledger()
            for record in ledger.unfinished():
                if record.id not in handed and record.kind != "external" and not svc.following(record.id):
                    handed.add(record.id)
                    svc._watch(record.id)
            for record in ledger.unarchived():
                # Completed: archive it (claimed), no poll needed; unless it is being archived here.
                if record.id not in handed and not svc.following(record.id) and not svc.archiving(record.id):
                    handed.add(record.id)
                    svc.archive_soon(
                        RemoteVideo(id=record.id, status="completed", expires_at=record.expires_at)
                    )
            ledger.sweep_claims(CLAIMS_KEPT_S)
        except Exception as exc:  # noqa: BLE001 - the sweep must outlive a database outage
            log.info("watch sweep skipped: %s", getattr(exc, "message", type(exc).__name__))
