"""One polling schedule per job, shared by every waiter and the background watcher.

A job is polled when its schedule says so: after the backend's `openai-poll-after-ms` when it
sends one, otherwise backing off 2 s, 4 s, 8 s, then every 15 s. Several waiters on one job
share each poll instead of multiplying them, the last one included: the poll that sees a job end
answers every waiter that was already waiting, so none of them asks again (a wait that starts
later asks the backend). The poller knows nothing of the backend: it is handed the function that
asks (`Fetch`: the service's refresh, which archives a completed job in the background).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio

from sora_mcp.errors import BackendError, BackendUnavailable, RateLimited
from sora_mcp.models import TERMINAL_STATUSES, Job

BACKOFF_START_S = 2.0
BACKOFF_MAX_S = 15.0
POLL_AFTER_MIN_S = 0.1  # a backend asking for faster polls than this is not obeyed
POLL_AFTER_MAX_S = 60.0  # nor one asking for slower polls than this
FIRST_POLL_TRIES = 3  # with no state to fall back on, a passing failure is retried at once
# How long a job's ending stays on hand for the waiters that were waiting when it ended: each of
# them polls again within one interval, and no interval is longer than POLL_AFTER_MAX_S.
ENDED_KEEP_S = POLL_AFTER_MAX_S + 15.0


@dataclass
class _Schedule:
    job: Job | None = None
    due: float = 0.0
    backoff: float = BACKOFF_START_S
    lock: anyio.Lock = field(default_factory=anyio.Lock)


# Ask the backend for a job now: (the job, the backend's poll-after hint in ms).
Fetch = Callable[[str], Awaitable[tuple[Job, int | None]]]


class Poller:
    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch
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
            for attempt in range(FIRST_POLL_TRIES):
                try:
                    # fetch archives in the background: a poll answers when it sees the job end,
                    # so neither its waiters nor the polls of other jobs wait on a download
                    job, poll_after_ms = await self._fetch(video_id)
                    break
                except (RateLimited, BackendUnavailable, BackendError) as exc:
                    if not _transient(exc) or (s.job is None and attempt == FIRST_POLL_TRIES - 1):
                        raise
                    wait = getattr(exc, "retry_after", None)
                    if s.job is not None:
                        s.due = anyio.current_time() + (wait if wait is not None else self._next_backoff(s))
                        return s.job
                    await anyio.sleep(min(wait if wait is not None else 0.5 * (attempt + 1), 5.0))
            if poll_after_ms:
                interval = min(max(poll_after_ms / 1000.0, POLL_AFTER_MIN_S), POLL_AFTER_MAX_S)
            else:
                interval = self._next_backoff(s)
            s.job, s.due = job, anyio.current_time() + interval
            if job.status in TERMINAL_STATUSES:
                self._schedules.pop(video_id, None)
                self._ended.pop(video_id, None)  # re-inserted at the end: the dict stays oldest first
                self._ended[video_id] = (job, anyio.current_time())
            return job

    @staticmethod
    def _next_backoff(s: _Schedule) -> float:
        interval, s.backoff = s.backoff, min(s.backoff * 2, BACKOFF_MAX_S)
        return interval


def _transient(exc: Exception) -> bool:
    """429, 5xx-like answers and unreachable backends pass; auth or a bad id do not."""
    return isinstance(exc, (RateLimited, BackendUnavailable)) or type(exc) is BackendError
