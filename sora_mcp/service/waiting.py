"""Waiting on jobs: a `get_status` wait and the background watcher's loop, on the shared poller.

Every waiter polls through `ctx.poller` (`polling.Poller`: one schedule per job, shared by every
waiter and the watcher), so several waiters on one job (a `get_status` wait, the watcher, a
second client) share each poll instead of multiplying them. The poll that sees a job complete
starts its archive in the background rather than downloading before it answers.

Poll turns across instances (`take_poll_turn`, `next_poll_in`; the poller's `Turns`): a job's
poll turn is a lease in the ledger, `("poll", video_id)`, held until the job's next poll is due.
The instance that takes it asks the backend and sets the lease to the interval the answer asked
for (a job that ended keeps it for `ENDED_HOLD_S`, so the others read the ending instead of
asking again). Another instance that finds the lease held answers from the ledger, which the
holder has just written, and looks again a little after the lease ends (`LOSER_LAG_S`; at least
once an interval, as a lease also covers the poll in flight): so the instance that polled keeps
its turn while it lives, and when it dies its lease lapses within one interval and another takes
over. Its own lease never stops an instance (its schedule already spaces its polls, and a wait
that starts after a job ended asks the backend again, as on one instance). On a single instance
(SQLite) polling is as before, at two small writes per poll. A job whose completion another
instance recorded is archived here too if need be: `archive_soon` claims the archive, so it
waits while the other instance archives and takes over when that one's claim lapses.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import anyio

from sora_mcp.errors import SoraError
from sora_mcp.models import TERMINAL_STATUSES, Job, RemoteVideo
from sora_mcp.service.archive import archive_soon, archived, fully_archived
from sora_mcp.service.context import ServiceContext
from sora_mcp.service.jobs import job_from_record
from sora_mcp.service.polling import Poller
from sora_mcp.service.reading import with_library

MAX_WAIT_S = 240.0  # the service's cap (the CLI waits in chunks of this); tools are capped lower
HEARTBEAT_S = 8.0  # progress goes out at least this often during a wait
HEARTBEAT_STEP = 0.001
POLL_CONCURRENCY = 8

ProgressFn = Callable[[float, float, str], Awaitable[None]]

POLL = "poll"  # the ledger lease kind of a poll turn
LOSER_LAG_S = 0.25  # after the lease ends: the holder polls at its end, the others read just after
MIN_TURN_S = 0.1
IN_FLIGHT_S = 10.0  # how long a poll may take before another instance may poll the job instead
ENDED_HOLD_S = 75.0  # as polling.ENDED_KEEP_S: waiters elsewhere read the ending, not the backend


def take_poll_turn(ctx: ServiceContext, video_id: str, expect_s: float) -> tuple[Job, float] | None:
    """None when this instance polls the job now (its lease, for `expect_s`); otherwise the job
    as the ledger has it and how long until the next look (another instance holds the turn)."""
    ledger = ctx.ledger
    expect_s = max(expect_s, MIN_TURN_S)
    # Held while the poll is in flight too (a loaded instance may take seconds to send it); set
    # to the real interval once it is answered (`next_poll_in`).
    if ledger.claim(POLL, video_id, ctx.instance_id, expect_s + IN_FLIGHT_S):
        return None
    record = ledger.get(video_id)
    if record is None:  # nothing shared to answer from (a job the ledger never saw): ask
        return None
    expiry = ledger.lease_expiry(POLL, video_id) or time.time()
    if record.status == "completed" and not fully_archived(ctx.settings, record):
        # Claimed by `archive_job`: waits while the instance that saw it end archives it.
        archive_soon(ctx, RemoteVideo(id=record.id, status="completed", expires_at=record.expires_at))
    # Look again when the lease ends, but at least once an interval: a poll in flight holds it longer.
    wait = min(max(0.0, expiry - time.time()), expect_s)
    return job_from_record(record, ctx.settings.data_dir), wait + LOSER_LAG_S


def next_poll_in(ctx: ServiceContext, video_id: str, interval_s: float, ended: bool) -> None:
    """After this instance's poll: hold the turn until the next poll is due (longer once the job ended)."""
    ttl = ENDED_HOLD_S if ended else max(interval_s, MIN_TURN_S)
    ctx.ledger.renew(POLL, video_id, ctx.instance_id, ttl)


async def wait_for(
    ctx: ServiceContext, video_ids: list[str], wait_seconds: float, on_progress: ProgressFn | None = None
) -> list[Job]:
    """Poll until every job ends or `wait_seconds` (capped at 240, or the max_wait_s setting when higher)
    pass; never raises on time-out.

    Progress is one combined stream: the sum of the jobs' percentages out of 100 per job (an ended
    job counts 100), sent whenever a job moves, with a message naming that job.

    Completed jobs are archived in the background as they are seen. A wait on one job also
    waits for its files (so the answer shows them); a wait on several answers as soon as the
    last one ends, each with the files archived by then (the rest follow in the background).
    """
    for video_id in video_ids:
        ctx.check_visible(video_id)  # another user's id is refused before any poll, like an unknown one
    cap = max(MAX_WAIT_S, float(ctx.settings.max_wait_s or 0))
    wait_seconds = max(0.0, min(float(wait_seconds), cap))
    since = anyio.current_time()
    deadline = since + wait_seconds
    poller = ctx.poller
    jobs: dict[str, Job] = {}
    report = _Reporter(video_ids, on_progress)
    await _poll_many(poller, video_ids, jobs, since)
    await report(jobs, None)
    while wait_seconds > 0:
        pending = [v for v in video_ids if jobs[v].status not in TERMINAL_STATUSES]
        now = anyio.current_time()
        if not pending or now >= deadline:
            break
        next_due = min(max(poller.due(v), now) for v in pending)
        # Wake for the next poll, the deadline, or a heartbeat: a client that hears nothing for a
        # while may end the call, so progress goes out at least every HEARTBEAT_S.
        await anyio.sleep(max(0.0, min(next_due, deadline, report.last_sent + HEARTBEAT_S) - now))
        now = anyio.current_time()
        due = [v for v in pending if poller.due(v) <= now] if next_due <= deadline else []
        if due:
            await _poll_many(poller, due, jobs, since)
            for vid in due:
                await report(jobs, vid)
        elif now < deadline:
            await report.heartbeat(jobs, now - since)
    if len(video_ids) == 1 and jobs[video_ids[0]].status == "completed":
        await archived(ctx, video_ids[0])
    return [with_library(ctx, jobs[v]) if jobs[v].status == "completed" else jobs[v] for v in video_ids]


async def _poll_many(poller: Poller, video_ids: list[str], jobs: dict[str, Job], since: float) -> None:
    """Poll several jobs at once (a few requests in flight, not fifty)."""
    limiter = anyio.CapacityLimiter(POLL_CONCURRENCY)

    async def one(vid: str) -> None:
        async with limiter:
            jobs[vid] = await poller.poll(vid, since=since)

    try:
        async with anyio.create_task_group() as tg:
            for vid in video_ids:
                tg.start_soon(one, vid)
    except BaseExceptionGroup as group:
        # One job's refusal (a malformed or unknown id) answers the call as it would for that job
        # alone; wrapped in a group it would reach the agent as a bare "Error executing tool".
        refusals = group.subgroup(lambda e: isinstance(e, SoraError))
        if refusals is None:
            raise
        first: BaseException = refusals
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None


class _Reporter:
    """Sends the combined progress; never lets it go backwards (MCP requires it to increase).

    It keeps the view it last reported and applies each moved job to it one at a time, so
    when several jobs move in one round every one of them gets its own message.
    """

    def __init__(self, order: list[str], on_progress: ProgressFn | None) -> None:
        self.order, self.on_progress, self.sent = order, on_progress, -1.0
        self.shown: dict[str, Job] = {}
        self.last_sent = anyio.current_time()

    async def heartbeat(self, jobs: dict[str, Job], elapsed: float) -> None:
        """Nothing moved for a while: say so. MCP progress must increase, so it creeps by a hair
        (HEARTBEAT_STEP, far below the 1% a real move adds)."""
        self.last_sent = anyio.current_time()  # also with nobody listening: the loop must not spin
        if self.on_progress is None or self.sent < 0:
            return
        running = sum(1 for j in jobs.values() if j.status not in TERMINAL_STATUSES)
        self.sent += HEARTBEAT_STEP
        await self.on_progress(
            self.sent, 100.0 * len(self.order), f"still waiting: {running} running ({elapsed:.0f} s so far)"
        )

    def _done(self) -> float:
        # A running job counts at most 99, so its ending always moves the stream forward.
        return sum(
            100.0 if j.status in TERMINAL_STATUSES else min(float(j.progress), 99.0)
            for j in self.shown.values()
        )

    async def __call__(self, jobs: dict[str, Job], moved: str | None) -> None:
        if self.on_progress is None:
            return
        if moved is None:
            self.shown = {v: jobs[v] for v in self.order}
            message = f"{len(self.order)} job(s): " + ", ".join(
                f"{v} {jobs[v].status}" for v in self.order[:5]
            )
        else:
            self.shown[moved] = j = jobs[moved]
            ended = sum(1 for x in self.shown.values() if x.status in TERMINAL_STATUSES)
            message = f"{moved}: {j.status} {j.progress}% ({ended}/{len(self.order)} ended)"
        done = self._done()
        if done <= self.sent:
            return
        self.sent = done
        self.last_sent = anyio.current_time()
        await self.on_progress(done, 100.0 * len(self.order), message)


async def follow_until_done(ctx: ServiceContext, video_id: str) -> None:
    """The background watcher's loop for one job (the poll that sees it complete starts its archive)."""
    poller = ctx.poller
    since = anyio.current_time()
    while True:
        job = await poller.poll(video_id, since=since)
        if job.status in TERMINAL_STATUSES:
            return
        await anyio.sleep(max(0.05, poller.due(video_id) - anyio.current_time()))
