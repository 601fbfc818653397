"""Waiting on jobs: a `get_status` wait and the background watcher's loop, on the shared poller.

Every waiter polls through `ctx.poller` (`polling.Poller`: one schedule per job, shared by every
waiter and the watcher), so several waiters on one job (a `get_status` wait, the watcher, a
second client) share each poll instead of multiplying them. The poll that sees a job complete
starts its archive in the background rather than downloading before it answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio

from sora_mcp.errors import SoraError
from sora_mcp.models import TERMINAL_STATUSES, Job
from sora_mcp.service.archive import archived
from sora_mcp.service.context import ServiceContext
from sora_mcp.service.polling import Poller
from sora_mcp.service.reading import with_library

MAX_WAIT_S = 240.0  # the service's cap (the CLI waits in chunks of this); tools are capped lower
HEARTBEAT_S = 8.0  # progress goes out at least this often during a wait
HEARTBEAT_STEP = 0.001
POLL_CONCURRENCY = 8

ProgressFn = Callable[[float, float, str], Awaitable[None]]


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
