"""Waiting on a job from a terminal: a rich progress bar on a TTY, plain status lines otherwise.

The waiting itself is `VideoService.wait` (the same poller the MCP `get_status` uses: it
follows the backend's `openai-poll-after-ms` hint, or backs off 2 s → 15 s without one). The
service caps one wait at 240 s, so a longer `--timeout` is several waits in a row.

`--poll-interval N` only ever slows polling down: the CLI then checks once every N seconds,
and the poller still never asks the backend sooner than the backend asked to be polled.
"""

from __future__ import annotations

import re
import sys
from typing import Any, Protocol

import anyio

from sora_mcp.models import TERMINAL_STATUSES, Job

MAX_WAIT_CHUNK_S = 240.0


class Display(Protocol):
    def update(self, status: str, progress: float) -> None: ...
    def close(self) -> None: ...


class PlainDisplay:
    """One stderr line per change of status or progress (logs, CI, pipes)."""

    def __init__(self, video_id: str) -> None:
        self.video_id = video_id
        self.last: tuple[str, int] | None = None

    def update(self, status: str, progress: float) -> None:
        now = (status, int(progress))
        if now != self.last:
            self.last = now
            print(f"{self.video_id}: {status} {int(progress)}%", file=sys.stderr, flush=True)

    def close(self) -> None:
        return None


class RichDisplay:
    """A progress bar on stderr; status changes are printed above it."""

    def __init__(self, video_id: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.video_id = video_id
        self.status: str | None = None
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._task = self._progress.add_task(video_id, total=100)
        self._progress.start()

    def update(self, status: str, progress: float) -> None:
        if status != self.status:
            self.status = status
            self._progress.console.print(f"{self.video_id}: {status}")
        done = 100.0 if status == "completed" else progress
        self._progress.update(self._task, completed=done, description=f"{self.video_id} {status}")

    def close(self) -> None:
        self._progress.stop()


def make_display(video_id: str) -> Display:
    return RichDisplay(video_id) if sys.stderr.isatty() else PlainDisplay(video_id)


def _status_in(message: str, video_id: str) -> str | None:
    """The status named in a `wait` progress message ("<id>: in_progress 40%" or "1 job(s): <id> queued")."""
    match = re.search(rf"{re.escape(video_id)}:? ([a-z_]+)", message)
    return match.group(1) if match else None


async def follow(
    svc: Any, video_id: str, *, timeout: float, poll_interval: float | None, display: Display
) -> Job:
    """Wait until the job ends or `timeout` seconds pass; returns the job as last seen (never raises on time-out)."""
    deadline = anyio.current_time() + timeout
    status = "queued"

    async def on_progress(done: float, total: float, message: str) -> None:
        nonlocal status
        status = _status_in(message, video_id) or status
        display.update(status, 100.0 * done / total if total else 0.0)

    while True:
        left = max(0.0, deadline - anyio.current_time())
        if poll_interval is None:
            [job] = await svc.wait([video_id], min(left, MAX_WAIT_CHUNK_S), on_progress)
        else:
            [job] = await svc.wait([video_id], 0)
        display.update(job.status, float(job.progress))
        left = deadline - anyio.current_time()
        if job.status in TERMINAL_STATUSES or left <= 0:
            return job
        if poll_interval is not None:
            await anyio.sleep(min(poll_interval, left))
