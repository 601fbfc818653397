"""Tool results: the short text the agent reads (`text`) plus the full record as `structuredContent`.

The tools hand what the service returned to these functions and return what they build, so
every result is shaped in one place: the next step stated the same way everywhere, nulls kept
in `structuredContent` (clients and the player read keys), and a completed job's thumbnail
shown once (again only when asked).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

import sora_mcp.server.text as tool_text
from sora_mcp.models import TERMINAL_STATUSES, Asset, DeleteResult, Job

if TYPE_CHECKING:
    from sora_mcp.service.batch import BatchResult

SHOWN_MAX = 10_000  # jobs whose thumbnail was shown, remembered so it is not sent again
THUMBS_PER_RESULT = 8


class StatusResult(BaseModel):
    """The state of one or more jobs."""

    jobs: list[Job]
    all_done: bool = Field(description="True when every job has ended (completed, failed, ...).")
    timed_out: bool = Field(
        description="True when wait_seconds passed before every job ended; the jobs keep running."
    )
    next_step: str


def result(
    text: str, structured: BaseModel | dict[str, Any], extra: list[Any] | None = None
) -> CallToolResult:
    # Every field, nulls included, as the SDK would dump a return value: clients (and the app) read keys.
    data = structured.model_dump(mode="json") if isinstance(structured, BaseModel) else structured
    return CallToolResult(content=[tool_text.text(text), *(extra or [])], structured_content=data)


def started(job: Job, kind: str, wait: float) -> CallToolResult:
    """create / remix / extend / edit: the new job (or the dry run's quote) and the one next step."""
    if job.status == "dry_run":
        return result(tool_text.dry_run_text(job), job)
    # The service may put a note before its next step (e.g. a model with unverified catalog values).
    given = job.next_step or ""
    note = given.split(" Call get_status", 1)[0] if " Call get_status" in given else None
    job.next_step = (f"{note} " if note else "") + "Call " + tool_text.wait_step([job.id], wait)
    return result(tool_text.started_text(job, kind, wait, note), job)


def batch(outcome: BatchResult, wait: float) -> CallToolResult:
    return result(tool_text.batch_text(outcome, wait), outcome)


def delete(video_id: str, outcome: DeleteResult) -> CallToolResult:
    return result(tool_text.delete_text(video_id, outcome), outcome)


# Reads a small archived file kept in the S3 store (None for a local file): VideoService.stored_bytes.
StoredBytes = Callable[[Asset, int], bytes | None]


def _thumbnail(asset: Asset, read: StoredBytes | None) -> list[Any]:
    """The thumbnail to show, read from the library or from the S3 store (blocking)."""
    data = read(asset, tool_text.THUMB_MAX_BYTES) if read is not None else None
    return tool_text.thumbnail(asset, data)


async def asset(asset: Asset, copied: Path | None, read: StoredBytes | None = None) -> CallToolResult:
    """A saved file: its path, where it was copied, and the image itself for a thumbnail."""
    images = await anyio.to_thread.run_sync(_thumbnail, asset, read) if asset.variant == "thumbnail" else []
    data = asset.model_dump(mode="json") | ({"copied_to": str(copied)} if copied else {})
    return result(tool_text.asset_text(asset, copied_to=copied), data, images)


class StatusShaper:
    """get_status results: each job's next step, the overall one, and thumbnails shown once per job."""

    def __init__(self, wait: float, read: StoredBytes | None = None) -> None:
        self.wait = wait
        self.read = read
        self._shown: set[str] = set()

    async def __call__(
        self, ids: list[str], jobs: list[Job], *, waited: bool, again: bool, archiving: Callable[[str], bool]
    ) -> CallToolResult:
        all_done = all(j.status in TERMINAL_STATUSES for j in jobs)
        for j in jobs:
            if j.status in ("queued", "in_progress"):
                j.next_step = "Call " + tool_text.wait_step([j.id], self.wait)
        step = (
            tool_text.done_step(jobs[0])
            if all_done and len(jobs) == 1
            else ("All ended." if all_done else "Call " + tool_text.wait_step(ids, self.wait))
        )
        status = StatusResult(jobs=jobs, all_done=all_done, timed_out=waited and not all_done, next_step=step)
        busy = {j.id for j in jobs if archiving(j.id)}
        images = await self._thumbnails(jobs, again)
        text = tool_text.status_text(jobs, all_done=all_done, wait=self.wait, archiving=busy)
        return result(text, status, images)

    async def _thumbnails(self, jobs: list[Job], again: bool) -> list[Any]:
        images: list[Any] = []
        for job in jobs:
            thumb = next((a for a in job.assets if a.variant == "thumbnail"), None)
            if (
                job.status == "completed"
                and thumb is not None
                and (again or job.id not in self._shown)
                and len(images) < THUMBS_PER_RESULT
            ):
                images += await anyio.to_thread.run_sync(_thumbnail, thumb, self.read)
                if len(self._shown) > SHOWN_MAX:
                    self._shown.clear()
                self._shown.add(job.id)
        return images
