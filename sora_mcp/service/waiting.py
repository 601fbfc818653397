"""Waiting on jobs: one polling schedule per job, shared by every waiter and the watcher.

A job is polled when its schedule says so: after the backend's `openai-poll-after-ms` when it
sends one, otherwise backing off 2 s, 4 s, 8 s, then every 15 s. Several waiters on one job
(a `get_status` wait, the background watcher, a second client) share each poll instead of
multiplying them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio

from sora_mcp.models import TERMINAL_STATUSES, Job

if TYPE_CHECKING:
    from sora_mcp.service.core import VideoService

MAX_WAIT_S = 240.0
BACKOFF_START_S = 2.0
BACKOFF_MAX_S = 15.0

ProgressFn = Callable[[float, float, str], Awaitable[None]]


@dataclass
class _Schedule:
    job: Job | None = None
    due: float = 0.0
    backoff: float = BACKOFF_START_S
    lock: anyio.Lock = field(default_factory=anyio.Lock)


class Poller:
    def __init__(self, service: VideoService) -> None:
        self._svc = service
        self._schedules: dict[str, _Schedule] = {}

    def due(self, video_id: str) -> float:
        s = self._schedules.get(video_id)
        return s.due if s else 0.0

    async def poll(self, video_id: str) -> Job:
        """The job's status, asking the backend only when its schedule is due."""
        s = self._schedules.setdefault(video_id, _Schedule())
        async with s.lock:
            now = anyio.current_time()
            if s.job is not None and now < s.due:
                return s.job
            job, poll_after_ms = await self._svc.refresh(video_id)
            if poll_after_ms:
                interval = poll_after_ms / 1000.0
            else:
                interval, s.backoff = s.backoff, min(s.backoff * 2, BACKOFF_MAX_S)
            s.job, s.due = job, anyio.current_time() + interval
            if job.status in TERMINAL_STATUSES:
                self._schedules.pop(video_id, None)
            return job


async def wait_for(
    svc: VideoService, video_ids: list[str], wait_seconds: float, on_progress: ProgressFn | None = None
) -> list[Job]:
    """Poll until every job ends or `wait_seconds` (capped at 240) pass; never raises on time-out."""
    wait_seconds = max(0.0, min(float(wait_seconds), MAX_WAIT_S))
    deadline = anyio.current_time() + wait_seconds
    poller = svc.poller
    jobs: dict[str, Job] = {}
    for vid in video_ids:
        jobs[vid] = await poller.poll(vid)
    await _report(jobs, video_ids, on_progress, None)
    while wait_seconds > 0:
        pending = [v for v in video_ids if jobs[v].status not in TERMINAL_STATUSES]
        now = anyio.current_time()
        if not pending or now >= deadline:
            break
        next_due = min(max(poller.due(v), now) for v in pending)
        await anyio.sleep(max(0.0, min(next_due, deadline) - now))
        if anyio.current_time() >= deadline and next_due > deadline:
            break
        for vid in pending:
            if poller.due(vid) <= anyio.current_time():
                before = jobs[vid]
                jobs[vid] = await poller.poll(vid)
                if (before.status, before.progress) != (jobs[vid].status, jobs[vid].progress):
                    await _report(jobs, video_ids, on_progress, vid)
    return [jobs[v] for v in video_ids]


async def _report(jobs: dict[str, Job], order: list[str], on_progress: ProgressFn | None, moved: str | None) -> None:
    if on_progress is None:
        return
    total = 100.0 * len(order)
    done = sum(100.0 if jobs[v].status in TERMINAL_STATUSES else float(jobs[v].progress) for v in order)
    if moved is None:
        message = f"{len(order)} job(s): " + ", ".join(f"{v} {jobs[v].status}" for v in order[:5])
    else:
        j = jobs[moved]
        message = f"{moved}: {j.status} {j.progress}%"
    await on_progress(done, total, message)


async def follow_until_done(svc: VideoService, video_id: str) -> None:
    """The background watcher's loop for one job (archiving happens inside `refresh`)."""
    poller = svc.poller
    while True:
        job = await poller.poll(video_id)
        if job.status in TERMINAL_STATUSES:
            return
        await anyio.sleep(max(0.05, poller.due(video_id) - anyio.current_time()))
