"""The text the agent reads back from each tool: a few plain lines, never a JSON copy.

Every byte of a tool result lands in the agent's context, so the text block carries what the
agent acts on (id, status, progress, file paths, the one next step); the full record stays in
`structuredContent` and in `sora://videos/{id}`. Thumbnails are inlined small (at most 480 px
wide), each after a line naming its job.
"""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcp.types import ImageContent, TextContent

from sora_mcp.models import TERMINAL_STATUSES, Asset, DeleteResult, Job, JobPage, Quote

if TYPE_CHECKING:
    from sora_mcp.service.batch import BatchResult

THUMB_MAX_WIDTH = 480
THUMB_MAX_BYTES = 20 * 1024 * 1024  # a larger "thumbnail" is not decoded to be shown
PROMPT_SHOWN = 200  # characters of the sent prompt shown after a create
LIST_PROMPT_SHOWN = 70


def wait_step(ids: list[str], wait: float) -> str:
    """The polling contract, said the same way everywhere."""
    target = f"video_id='{ids[0]}'" if len(ids) == 1 else f"video_ids={ids[:50]!r}".replace('"', "'")
    return f"get_status({target}, wait_seconds={wait:g}); call get_status again with the same wait until all_done."


def price(quote: Quote | None) -> str:
    if quote is None:
        return "no quote"
    if quote.usd is None:
        return f"no price ({quote.note})"
    if quote.usd == 0:
        return f"$0 ({quote.note})"
    return f"≈${quote.usd:.2f}"


def _shape(job: Job) -> str:
    parts = [p for p in (job.model, job.size, f"{job.seconds} s" if job.seconds else None) if p]
    return ", ".join(parts)


def _short(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _primary(prompt: str | None) -> str:
    """The request itself: a structured prompt's `Primary request:` line, else the prompt."""
    for line in (prompt or "").splitlines():
        if line.lower().startswith("primary request:"):
            return line.split(":", 1)[1].strip()
    return prompt or ""


def files_line(job: Job, *, archiving: bool) -> str | None:
    if job.status != "completed":
        return None
    if job.assets:
        order = {"video": 0, "thumbnail": 1, "spritesheet": 2}
        return "Files: " + "; ".join(
            f"{a.variant} {a.path}" for a in sorted(job.assets, key=lambda a: order[a.variant])
        )
    if archiving:
        return (
            f"Files: still being archived into the library; call get_status(video_id='{job.id}') again "
            "in a few seconds for the paths."
        )
    return f"Files: not archived yet; download_asset(video_id='{job.id}') saves the MP4."


def job_lines(job: Job, *, archiving: bool = False) -> list[str]:
    head = f"{job.id}: {job.status}"
    if job.status in ("queued", "in_progress"):
        head += f" {job.progress}%"
    shape = _shape(job)
    lines = [head + (f" ({shape})" if shape else "")]
    if job.error is not None:
        lines.append(f"Error {job.error.code}: {_short(job.error.message, 300)}")
    if (files := files_line(job, archiving=archiving)) is not None:
        lines.append(files)
    return lines


def started_text(job: Job, kind: str, wait: float, note: str | None = None) -> str:
    """create / remix / extend / edit: the new job, the prompt sent, a note (e.g. unverified catalog values),
    the one next step."""
    what = {
        "create": "Started",
        "remix": "Started remix",
        "extend": "Started extension",
        "edit": "Started edit",
    }
    source = job.remixed_from_video_id or job.extended_from_video_id
    lines = [
        f"{what.get(kind, 'Started')} {job.id} ({job.status}): {_shape(job)}; {price(job.quote)}."
        + (f" Source: {source}." if source and kind != "create" else "")
    ]
    if job.prompt:
        lines.append(f"Prompt sent ({len(job.prompt)} chars): {_short(job.prompt, PROMPT_SHOWN)}")
    if note:
        lines.append(note)
    lines.append("Next: " + wait_step([job.id], wait))
    return "\n".join(lines)


def dry_run_text(job: Job) -> str:
    lines = [f"Dry run: nothing was created or billed. Would make {_shape(job)}; {price(job.quote)}."]
    if job.checks:
        lines.append("Checked: " + "; ".join(job.checks) + ".")
    if job.unchecked:
        lines.append("Not checked: " + "; ".join(job.unchecked) + ".")
    if job.prompt:
        lines.append(f"Prompt to send ({len(job.prompt)} chars): {_short(job.prompt, PROMPT_SHOWN)}")
    lines.append("Next: call again without dry_run to create it.")
    return "\n".join(lines)


def status_text(jobs: list[Job], *, all_done: bool, wait: float, archiving: set[str]) -> str:
    lines: list[str] = []
    for job in jobs:
        lines += job_lines(job, archiving=job.id in archiving)
    if not all_done:
        running = [j.id for j in jobs if j.status not in TERMINAL_STATUSES]
        lines.append(
            f"Not finished ({len(running)} running; they keep running). Next: " + wait_step(running, wait)
        )
    elif len(jobs) == 1:
        lines.append("Next: " + done_step(jobs[0]))
    else:
        lines.append(
            "All ended. Next: use the paths above; download_asset(video_id, destination=...) copies a "
            "file where the user wants it."
        )
    return "\n".join(lines)


def done_step(job: Job) -> str:
    if job.status == "completed":
        if job.assets:
            return (
                "use the paths above; download_asset(video_id, destination=...) copies a file where the user "
                "wants it; remix_video changes the clip."
            )
        return f"download_asset(video_id='{job.id}') once its files are saved."
    return job.next_step or "create_video to try again."


def batch_text(result: BatchResult, wait: float) -> str:
    """One line for the batch, one per job (its id and status, or why it failed), the next step."""
    lines = [
        f"Batch{' dry run' if result.dry_run else ''}: {result.created} created, {result.failed} failed"
        + (f", total ≈${result.total_quote_usd:.2f}." if result.total_quote_usd is not None else ".")
    ]
    for r in result.results:
        lines.append(
            f"job {r.line}: "
            + (f"{r.job.id} {r.job.status}" if r.ok and r.job else (r.error or "no job")[:300])
        )
    ids = [r.job.id for r in result.results if r.ok and r.job and r.job.status != "dry_run"]
    lines.append("Next: " + (wait_step(ids, wait) if ids else result.next_step))
    return "\n".join(lines)


def delete_text(video_id: str, result: DeleteResult) -> str:
    return (
        f"{video_id}: {'deleted' if result.deleted else 'not deleted'} on the backend"
        + ("; local files deleted." if result.local_files_deleted else ".")
        + (f" {result.note}" if result.note else "")
    )


def list_text(page: JobPage) -> str:
    lines = []
    for job in page.data:
        when = (
            datetime.fromtimestamp(job.created_at, UTC).strftime("%Y-%m-%d %H:%M") if job.created_at else "?"
        )
        video = next((a.path for a in job.assets if a.variant == "video"), None)
        line = f"{job.id} · {job.status} · {_shape(job)} · {when} · {job.where or '?'}"
        line += f' · "{_short(_primary(job.prompt), LIST_PROMPT_SHOWN)}"'
        if video:
            line += f" · {video}"
        lines.append(line)
    if not lines:
        lines.append("No jobs match.")
    if page.note:
        lines.append(page.note)
    if page.next_after:
        lines.append(f"More: pass after='{page.next_after}'.")
    lines.append("Full detail: sora://videos/{id}.")
    return "\n".join(lines)


def asset_text(asset: Asset, *, copied_to: Path | None = None) -> str:
    size = (
        f"{asset.size_bytes / 1048576:.1f} MB" if asset.size_bytes >= 1048576 else f"{asset.size_bytes} bytes"
    )
    lines = [f"{asset.variant} of {asset.video_id}: {asset.path} ({size}, {asset.mime_type})."]
    if asset.url:
        lines.append(f"Link (expires; fetch it soon): {asset.url}")
    if copied_to is not None:
        lines.append(f"Copied to {copied_to}.")
    if asset.derived:
        lines.append(
            f"This {asset.variant} was made locally by sora-mcp from the downloaded MP4: the backend "
            "does not serve it."
        )
    return "\n".join(lines)


def spend_text(summary: dict[str, Any]) -> str:
    def usd(key: str) -> str:
        return f"${float(summary.get(key) or 0):.2f}"

    lines = [
        (
            f"Spend (estimates, UTC): today {usd('today_usd')} ({summary.get('today_jobs', 0)} job(s)), "
            f"this month {usd('month_usd')}, total {usd('total_usd')} ({summary.get('total_jobs', 0)} job(s))."
        )
    ]
    unknown = summary.get("total_unknown_cost_jobs") or 0
    if unknown:
        lines.append(f"{unknown} job(s) have no known price and are not counted.")
    left = summary.get("budget_remaining_usd")
    lines.append(
        f"Budget left: ${left:.2f} ({summary.get('budget_limit')})."
        if left is not None
        else f"Budget: {summary.get('budget_limit')}."
    )
    return "\n".join(lines)


def text(value: str) -> TextContent:
    return TextContent(type="text", text=value)


def thumbnail(asset: Asset, data: bytes | None = None) -> list[Any]:
    """A label line and the thumbnail, at most THUMB_MAX_WIDTH wide (blocking: run in a thread).
    `data`: the file's bytes when it is not a local file (read from the S3 store)."""
    from PIL import Image  # heavy; only needed when a thumbnail is shown

    path = Path(asset.path)
    if asset.size_bytes > THUMB_MAX_BYTES or (data is None and not path.is_file()):
        return []
    try:
        with Image.open(path if data is None else io.BytesIO(data)) as image:
            image.thumbnail((THUMB_MAX_WIDTH, THUMB_MAX_WIDTH * 4), Image.Resampling.LANCZOS)
            out = io.BytesIO()
            image.convert("RGB").save(out, format="WEBP", quality=70)
            size = image.size
    except Exception:  # noqa: BLE001 - a damaged thumbnail is simply not shown
        return []
    encoded = base64.b64encode(out.getvalue()).decode()
    return [
        text(f"Thumbnail of {asset.video_id} ({size[0]}x{size[1]}):"),
        ImageContent(type="image", data=encoded, mime_type="image/webp"),
    ]
