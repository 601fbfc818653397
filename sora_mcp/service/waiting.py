"""Waiting on jobs: one polling schedule per job, shared by every waiter and the watcher.

A job is polled when its schedule says so: after the backend's `openai-poll-after-ms` when it
sends one, otherwise backing off 2 s, 4 s, 8 s, then every 15 s. Several waiters on one job
(a `get_status` wait, the background watcher, a second client) share each poll instead of
multiplying them, the last one included: the poll that sees a job end answers every waiter that
was already waiting, so none of them asks again (a wait that starts later asks the backend).
That poll starts the job's archive in the background rather than downloading before it answers.
Across instances sharing a ledger, each poll is taken as a turn in the ledger (`shared.py`): an
instance whose turn it is not answers from the ledger instead of asking the backend.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio

from sora_mcp.errors import BackendError, BackendUnavailable, RateLimited, SoraError
from sora_mcp.models import TERMINAL_STATUSES, Job
from sora_mcp.service import shared

if TYPE_CHECKING:
    from sora_mcp.service.core import VideoService

MAX_WAIT_S = 240.0  # the service's cap (the CLI waits in chunks of this); tools are capped lower
HEARTBEAT_S = 8.0  # progress goes out at least this often during a wait
HEARTBEAT_STEP = 0.001
BACKOFF_START_S = 2.0
BACKOFF_MAX_S = 15.0
POLL_AFTER_MIN_S = 0.1  # a backend asking for faster polls than this is not obeyed
POLL_AFTER_MAX_S = 60.0  # nor one asking for slower polls than this
POLL_CONCURRENCY = 8
FIRST_POLL_TRIES = 3  # with no state to fall back on, a passing failure is retried at once
# How long a job's ending stays on hand for the waiters that were waiting when it ended: each of
# them polls again within one interval, and no interval is longer than POLL_AFTER_MAX_S.
ENDED_KEEP_S = POLL_AFTER_MAX_S + 15.0

ProgressFn = Callable[[float, float, str], Awaitable[None]]


@dataclass
class _Schedule:
    job: Job | None = None
    due: float = 0.0
    backoff: float = BACKOFF_START_S
    interval: float = BACKOFF_START_S  # the last interval: how long a poll turn is taken for
    lock: anyio.Lock = field(default_factory=anyio.Lock)


class Poller:
    def __init__(self, service: VideoService) -> None:
        self._svc = service
        self._schedules: dict[str, _Schedule] = {}
        self._ended: dict[str, tuple[Job, float]] = {}  # id -> (its ending, when seen), oldest first

    def due(self, video_id: str) -> float:
        s = self._schedules.get(video_id)
        return s.due if s else 0.0

    def forget(self, video_id: str) -> None:
        """Drop what is known about a job (it was deleted): the next poll asks the backend."""
        self._schedules.pop(video_id, None)
        self._ended.pop(video_id, None)

    def _ending_seen_since(self, video_id: str, since: float) -> Job | None:
        now = anyio.current_time()
        while self._ended:  # prune, oldest first
            oldest = next(iter(self._ended))
            if now - self._ended[oldest][1] < ENDED_KEEP_S:
                break
            del self._ended[oldest]
        ended = self._ended.get(video_id)
        return ended[0] if ended is not None and ended[1] >= since else None

    async def poll(self, video_id: str, *, since: float) -> Job:
        """The job's status, asking the backend only when its schedule is due.

        `since` is when the caller started waiting: if another waiter's poll saw the job end after
        that, its answer is returned without asking again. A passing backend failure (429, 5xx,
        unreachable) does not end a wait: the last known state is returned and the next poll
        comes after `Retry-After` or the next back-off step.
        """
        if (ended := self._ending_seen_since(video_id, since)) is not None:
            return ended
        s = self._schedules.setdefault(video_id, _Schedule())
        async with s.lock:
            now = anyio.current_time()
            if s.job is not None and now < s.due:
                return s.job
            if (ended := self._ending_seen_since(video_id, since)) is not None:
                return ended  # it ended while we waited for the lock
            # [cluster] another instance's turn to poll: answer from the shared ledger (shared.py)
            if (theirs := shared.take_poll_turn(self._svc, video_id, s.interval)) is not None:
                s.job, look_again_s = theirs
                s.due = anyio.current_time() + look_again_s
                if s.job.status in TERMINAL_STATUSES:
                    self._end(video_id, s.job)
                return s.job
            for attempt in range(FIRST_POLL_TRIES):
                try:
                    # archived in the background: a poll answers when it sees the job end, so
                    # neither its waiters nor the polls of other jobs wait on a download
                    job, poll_after_ms = await self._svc.refresh(video_id, archive="later")
                    break
                except (RateLimited, BackendUnavailable, BackendError) as exc:
                    if not _transient(exc) or (s.job is None and attempt == FIRST_POLL_TRIES - 1):
                        raise
                    wait = getattr(exc, "retry_after", None)
                    if s.job is not None:
                        delay = wait if wait is not None else self._next_backoff(s)
                        shared.next_poll_in(self._svc, video_id, delay, ended=False)  # [cluster]
                        s.due = anyio.current_time() + delay
                        return s.job
                    await anyio.sleep(min(wait if wait is not None else 0.5 * (attempt + 1), 5.0))
            if poll_after_ms:
                interval = min(max(poll_after_ms / 1000.0, POLL_AFTER_MIN_S), POLL_AFTER_MAX_S)
            else:
                interval = self._next_backoff(s)
            # [cluster] hold the poll turn until the next poll is due (shared.py); first, so the
            # lease ends just before this schedule's next poll
            shared.next_poll_in(self._svc, video_id, interval, ended=job.status in TERMINAL_STATUSES)
            s.job, s.due, s.interval = job, anyio.current_time() + interval, interval
            if job.status in TERMINAL_STATUSES:
                self._end(video_id, job)
            return job

    def _end(self, video_id: str, job: Job) -> None:
        self._schedules.pop(video_id, None)
        self._ended.pop(video_id, None)  # re-inserted at the end: the dict stays oldest first
        self._ended[video_id] = (job, anyio.current_time())

    @staticmethod
    def _next_backoff(s: _Schedule) -> float:
        interval, s.backoff = s.backoff, min(s.backoff * 2, BACKOFF_MAX_S)
        return interval


def _transient(exc: Exception) -> bool:
    """429, 5xx-like answers and unreachable backends pass; auth or a bad id do not."""
    return isinstance(exc, (RateLimited, BackendUnavailable)) or type(exc) is BackendError


async def wait_for(
    svc: VideoService, video_ids: list[str], wait_seconds: float, on_progress: ProgressFn | None = None
) -> list[Job]:
    """Poll until every job ends or `wait_seconds` (capped at 240, or the max_wait_s setting when higher)
    pass; never raises on time-out.

    Progress is one combined stream: the sum of the jobs' percentages out of 100 per job (an ended
    job counts 100), sent whenever a job moves, with a message naming that job.

    Completed jobs are archived in the background as they are seen. A wait on one job also
    waits for its files (so the answer shows them); a wait on several answers as soon as the
    last one ends, each with the files archived by then (the rest follow in the background).
    """
    cap = max(MAX_WAIT_S, float(getattr(svc.settings, "max_wait_s", 0) or 0))
    wait_seconds = max(0.0, min(float(wait_seconds), cap))
    since = anyio.current_time()
    deadline = since + wait_seconds
    poller = svc.poller
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
        await svc.archived(video_ids[0])
    return [svc.with_library(jobs[v]) if jobs[v].status == "completed" else jobs[v] for v in video_ids]


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


async def follow_until_done(svc: VideoService, video_id: str) -> None:
    """The background watcher's loop for one job (the poll that sees it complete starts its archive)."""
    poller = svc.poller
    since = anyio.current_time()
    while True:
        job = await poller.poll(video_id, since=since)
        if job.status in TERMINAL_STATUSES:
            return
        await anyio.sleep(max(0.05, poller.due(video_id) - anyio.current_time()))
