"""The MCP tools: thin front ends over VideoService. Docstrings are what the agent reads."""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, ImageContent, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from sora_mcp.apps import player_link
from sora_mcp.models import Asset, DeleteResult, Job, JobPage
from sora_mcp.service import CreateRequest, DeriveRequest, VideoService
from sora_mcp.service.batch import BatchResult, BatchSpec
from sora_mcp.tool_args import (
    ApprovalAnswer,
    Augment,
    BackendName,
    DryRun,
    Extra,
    InputReference,
    Model,
    Prompt,
    Seconds,
    Size,
    VideoId,
    approver_for,
    augment_fields,
    augmentable,
    batch_defaults,
    batch_gate,
    create_gate,
    derive_gate,
    guarded_tool,
    needs_approval,
)

THUMBNAIL_INLINE_MAX = 512 * 1024


class StatusResult(BaseModel):
    """The state of one or more jobs."""

    jobs: list[Job]
    all_done: bool = Field(description="True when every job has ended (completed, failed, ...).")
    timed_out: bool = Field(description="True when wait_seconds passed before every job ended; the jobs keep running.")
    next_step: str


def _dump(model: BaseModel) -> str:
    return model.model_dump_json(indent=2, exclude_none=True)


def _image(asset: Asset) -> ImageContent | None:
    from pathlib import Path

    path = Path(asset.path)
    if asset.size_bytes > THUMBNAIL_INLINE_MAX or not path.is_file():
        return None
    return ImageContent(type="image", data=base64.b64encode(path.read_bytes()).decode(), mime_type=asset.mime_type)


def register_tools(mcp: MCPServer, service: VideoService) -> None:
    open_world = {"openWorldHint": True}
    tool = guarded_tool(mcp)  # mcp.tool, with a full disk answered as DiskFull

    @tool(annotations=ToolAnnotations(title="Create a video", destructiveHint=False, idempotentHint=False,
                                          **open_world), meta=player_link())
    @augmentable
    @needs_approval(create_gate(service))
    async def create_video(
        prompt: Prompt, ctx: Context, model: Model = "sora-2", size: Size = "1280x720", seconds: Seconds = "4",
        input_reference: InputReference = None, augment: Augment = True, extra: Extra = None,
        dry_run: DryRun = False, backend: BackendName = None, *, approval: ApprovalAnswer, **fields: Any,
    ) -> Job:
        """Start generating a video from a text prompt; returns the job at once (status queued).

        Rendering takes from seconds (local engine) to minutes (real backends). Next: call
        get_status(video_id, wait_seconds=120) to wait with progress, then download_asset(video_id).
        With augment=true (default) the optional fields (scene, camera, palette, ...) are woven into a
        structured prompt; the result's `prompt` shows exactly what was sent. dry_run=true only
        validates and quotes the cost; above the budget (SORA_MCP_BUDGET_USD) the user is asked to
        approve. For many clips use create_batch. See the sora://prompt-template and sora://models resources.
        """
        req = CreateRequest(prompt=prompt, model=model, size=size, seconds=seconds, input_reference=input_reference,
                            augment=augment, fields=augment_fields(fields), extra=extra, backend=backend)
        return await service.create(req, dry_run=dry_run, approve=approver_for(ctx, approval))

    @tool(annotations=ToolAnnotations(title="Remix a video", destructiveHint=False, idempotentHint=False,
                                          **open_world))
    @augmentable
    @needs_approval(derive_gate(service, "remix"))
    async def remix_video(
        video_id: VideoId, prompt: Prompt, ctx: Context, augment: Augment = True, extra: Extra = None,
        dry_run: DryRun = False, *, approval: ApprovalAnswer, **fields: Any,
    ) -> Job:
        """Make a new video from a completed one, changing only what the prompt says.

        Keeps the source's model, size, duration and look. State the invariants ("same shot, change
        only the lighting to dusk"). Returns the new job at once; next call get_status with wait_seconds.
        """
        req = DeriveRequest(video_id=video_id, prompt=prompt, augment=augment, fields=augment_fields(fields),
                            extra=extra)
        return await service.derive("remix", req, dry_run=dry_run, approve=approver_for(ctx, approval))

    @tool(annotations=ToolAnnotations(title="Extend a video", destructiveHint=False, idempotentHint=False,
                                          **open_world))
    @needs_approval(derive_gate(service, "extend"))
    async def extend_video(
        video_id: VideoId, prompt: Prompt, ctx: Context,
        seconds: Annotated[str | int, Field(description="Length of the NEW segment in seconds (4, 8 or 12).")] = "4",
        augment: Augment = True, extra: Extra = None, dry_run: DryRun = False, *, approval: ApprovalAnswer,
    ) -> Job:
        """Continue a completed video with a new segment that picks up from its last frame.

        The new job's `seconds` is the stitched total. Not every backend can extend; you get a clear
        refusal if not. Next: get_status with wait_seconds, then download_asset.
        """
        req = DeriveRequest(video_id=video_id, prompt=prompt, seconds=seconds, augment=augment, extra=extra)
        return await service.derive("extend", req, dry_run=dry_run, approve=approver_for(ctx, approval))

    @tool(annotations=ToolAnnotations(title="Edit a video", destructiveHint=False, idempotentHint=False,
                                          **open_world))
    @needs_approval(derive_gate(service, "edit"))
    async def edit_video(
        video_id: VideoId, prompt: Prompt, ctx: Context, augment: Augment = True, extra: Extra = None,
        dry_run: DryRun = False, *, approval: ApprovalAnswer,
    ) -> Job:
        """Re-render a completed video per an edit instruction (e.g. "make it night, keep the framing").

        Not every backend can edit; you get a clear refusal if not. Next: get_status with wait_seconds.
        """
        req = DeriveRequest(video_id=video_id, prompt=prompt, augment=augment, extra=extra)
        return await service.derive("edit", req, dry_run=dry_run, approve=approver_for(ctx, approval))

    @tool(annotations=ToolAnnotations(title="Create many videos", destructiveHint=False, idempotentHint=False,
                                          **open_world))
    @needs_approval(batch_gate(service))
    async def create_batch(
        ctx: Context,
        jobs: Annotated[list[BatchSpec] | None, Field(
            description="The jobs, each {prompt, model?, size?, seconds?, input_reference?, ...shot fields}.")] = None,
        jsonl_path: Annotated[str | None, Field(
            description="Or a local JSONL file (inside the allowed folders): one job per line as a JSON object or "
                        "a plain-text prompt; blank lines and # comments are skipped.")] = None,
        model: Annotated[str | None, Field(description="Default model for lines that do not name one.")] = None,
        size: Annotated[str | None, Field(description="Default size (WIDTHxHEIGHT) for lines without one.")] = None,
        seconds: Annotated[str | int | None, Field(description="Default duration for lines without one.")] = None,
        augment: Annotated[bool | None, Field(description="Default for weaving shot fields into the prompt.")] = None,
        concurrency: Annotated[int, Field(ge=1, le=10, description="Creates in flight at once (1-10).")] = 3,
        max_attempts: Annotated[int, Field(ge=1, le=10, description="Sends per line when rate-limited or the "
                                           "backend is unreachable (1-10).")] = 3,
        fail_fast: Annotated[bool, Field(description="Stop launching lines after the first failure; with an "
                                         "invalid line, send nothing.")] = False,
        dry_run: DryRun = False, *, approval: ApprovalAnswer,
    ) -> BatchResult:
        """Start many video jobs at once from a list or a JSONL file; returns one result per line.

        Every line is validated and priced first; if the total crosses the budget the user is asked
        once. Lines run `concurrency` at a time; 429s are retried after Retry-After; a create whose
        answer was lost is reconciled, never sent twice. Each result has its line number and the job
        (with its cost quote) or the error. Next: get_status(video_ids=[...], wait_seconds=120) to
        wait on all of them with progress, then download_asset for each. dry_run=true only validates
        and quotes the whole batch.
        """

        async def progress(done: float, total: float, message: str) -> None:
            await ctx.report_progress(done, total, message)

        return await service.create_batch(
            [j.model_dump(exclude_unset=True) for j in jobs] if jobs is not None else None, jsonl_path,
            defaults=batch_defaults(model, size, seconds, augment), concurrency=concurrency,
            max_attempts=max_attempts, fail_fast=fail_fast, dry_run=dry_run,
            approve=approver_for(ctx, approval), on_progress=progress,
        )

    @tool(annotations=ToolAnnotations(title="Get job status", readOnlyHint=True, idempotentHint=True,
                                          **open_world), meta=player_link())
    async def get_status(
        ctx: Context,
        video_id: Annotated[str | None, Field(description="The job to check.")] = None,
        wait_seconds: Annotated[float, Field(description="Wait up to this long (max 240) for the job(s) to end, "
                                             "with progress notifications. 0 = check once.", ge=0)] = 0,
        video_ids: Annotated[list[str] | None, Field(description="Several jobs to check/wait on together.")] = None,
    ) -> Annotated[CallToolResult, StatusResult]:
        """Check a job (or several) and optionally wait for it to finish.

        With wait_seconds > 0 it polls until the job(s) complete or fail, or the time is up (then it
        returns the current state; call again to keep waiting; the jobs keep running). With
        video_ids (up to 50, e.g. from create_batch) it waits on all of them and sends one combined
        progress stream naming the job that moved. Completed jobs are archived into the local library
        in the background: a wait on one job answers once its files are saved (its thumbnail is
        shown); a wait on several answers as soon as the last one ends. Next: download_asset.
        """
        ids = _ids(video_id, video_ids)

        async def progress(done: float, total: float, message: str) -> None:
            await ctx.report_progress(done, total, message)

        jobs = await service.wait(ids, wait_seconds, progress) if wait_seconds > 0 else [
            await service.get_status(i) for i in ids
        ]
        return _status_result(jobs, wait_seconds)

    @tool(annotations=ToolAnnotations(title="List videos", readOnlyHint=True, idempotentHint=True,
                                          **open_world), meta=player_link())
    async def list_videos(
        limit: Annotated[int, Field(ge=1, le=100, description="Page size (1-100).")] = 20,
        after: Annotated[str | None, Field(description="Cursor: the next_after of the previous page.")] = None,
        order: Annotated[Literal["desc", "asc"], Field(description="desc = newest first.")] = "desc",
        status: Annotated[str | None, Field(description="Only jobs with this status (e.g. completed).")] = None,
        model: Annotated[str | None, Field(description="Only jobs of this model.")] = None,
        created_since: Annotated[int | None, Field(description="Only jobs created at/after this Unix time.")] = None,
        text: Annotated[str | None, Field(description="Only jobs whose prompt contains this text.")] = None,
    ) -> JobPage:
        """List video jobs, newest first: the backend's and the local library's, merged.

        Each entry's `where` says remote (backend only), local (library only: the backend no longer
        has it, but archived files remain) or both. Use `text` to find "the sunset clip" by prompt.
        """
        return await service.list(limit=limit, after=after, order=order, status=status, model=model,
                                  since=created_since, text=text)

    @tool(annotations=ToolAnnotations(title="Download a video asset", readOnlyHint=False,
                                          destructiveHint=False, idempotentHint=True, **open_world), meta=player_link())
    async def download_asset(
        video_id: VideoId,
        variant: Annotated[Literal["video", "thumbnail", "spritesheet"],
                           Field(description="video (MP4), thumbnail (WebP) or spritesheet (JPEG grid).")] = "video",
    ) -> Annotated[CallToolResult, Asset]:
        """Save a completed job's MP4, thumbnail or spritesheet into the library; returns its path.

        Answers from the library when the file is already archived (even after the backend's link
        expired). Refuses while the job is not completed: wait with get_status first.
        """
        asset = await service.download(video_id, variant)
        content: list[Any] = [TextContent(type="text", text=_dump(asset))]
        if asset.derived:
            content.append(TextContent(type="text", text=f"This {variant} was made locally by sora-mcp from the "
                                       "downloaded MP4: the backend does not serve it."))
        if variant == "thumbnail" and (img := _image(asset)) is not None:
            content.append(img)
        return CallToolResult(content=content, structured_content=asset.model_dump(mode="json"))

    @tool(annotations=ToolAnnotations(title="Delete a video", destructiveHint=True, idempotentHint=True,
                                          **open_world))
    async def delete_video(
        video_id: VideoId,
        delete_local_files: Annotated[bool, Field(description="Also delete the archived files in the library.")] = False,
    ) -> DeleteResult:
        """Delete a video on the backend. Archived local files are kept unless delete_local_files=true."""
        return await service.delete(video_id, delete_local_files=delete_local_files)



def _ids(video_id: str | None, video_ids: list[str] | None) -> list[str]:
    from sora_mcp.errors import InvalidInput

    ids = ([video_id] if video_id else []) + list(video_ids or [])
    if not ids:
        raise InvalidInput("No video id given", fix="Pass video_id (one job) or video_ids (several).")
    if len(ids) > 50:
        raise InvalidInput(f"{len(ids)} ids is too many to wait on at once", fix="Pass at most 50 video_ids.")
    return list(dict.fromkeys(ids))


def _status_result(jobs: list[Job], wait_seconds: float) -> CallToolResult:
    from sora_mcp.models import TERMINAL_STATUSES

    all_done = all(j.status in TERMINAL_STATUSES for j in jobs)
    if all_done:
        step = jobs[0].next_step if len(jobs) == 1 else "All jobs ended; call download_asset for each completed one."
    else:
        step = "Not finished yet: call get_status again with wait_seconds to keep waiting (the jobs keep running)."
    result = StatusResult(jobs=jobs, all_done=all_done, timed_out=wait_seconds > 0 and not all_done,
                          next_step=step or "")
    content: list[Any] = [TextContent(type="text", text=_dump(result))]
    for job in jobs[:4]:
        thumb = next((a for a in job.assets if a.variant == "thumbnail"), None)
        if job.status == "completed" and thumb is not None and (img := _image(thumb)) is not None:
            content.append(img)
    return CallToolResult(content=content, structured_content=result.model_dump(mode="json"))
