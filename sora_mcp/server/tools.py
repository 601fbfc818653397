"""The MCP tools: thin front ends over VideoService. Docstrings are what the agent reads.

Each tool body checks its arguments, calls one service method and hands the answer to
`results`, which shapes it: a short text for the agent (`text`) plus the full record as
`structuredContent`. Argument types live in `params`, budget approval in `approval`.

Each tool is built with the SDK's public `Tool.from_function`, then its input schema is
compacted and closed (see `check`): the agent reads every byte of tools/list, so titles, null
arms and output schemas (no client needs them: the text block and `structuredContent` carry the
result) are left out.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

import sora_mcp.server.text as tool_text
from sora_mcp.errors import ConfigError
from sora_mcp.server import results
from sora_mcp.server.approval import (
    ApprovalAnswer,
    approver_for,
    batch_gate,
    create_gate,
    derive_gate,
    needs_approval,
)
from sora_mcp.server.check import close_schema, compact_schema
from sora_mcp.server.params import (
    Augment,
    BackendName,
    BatchJobs,
    DryRun,
    Extra,
    InputReference,
    JsonlPath,
    Model,
    Prompt,
    Seconds,
    Shot,
    Size,
    VideoId,
    batch_defaults,
    disk_guard,
    flat_jobs,
    one_or_many,
    shot_fields,
)
from sora_mcp.service import CreateRequest, DeriveRequest, VideoService

Status = Literal["queued", "in_progress", "completed", "failed", "cancelled", "expired", "deleted"]


def _make(
    fn: Callable[..., Any],
    annotations: ToolAnnotations,
    meta: Mapping[str, dict[str, Any]],
    schema_extra: dict[str, Any] | None = None,
    patch: Callable[[dict[str, Any]], None] | None = None,
) -> Tool:
    """A Tool whose description is the docstring without indentation and whose schema is compact and closed.

    Its function goes through `disk_guard`: a full disk anywhere answers with the fix, not a crash."""
    tool = Tool.from_function(
        disk_guard(fn),
        name=fn.__name__,
        description=inspect.cleandoc(fn.__doc__ or ""),
        annotations=annotations,
        meta=meta.get(fn.__name__),
        structured_output=False,
    )
    schema = close_schema(compact_schema(tool.parameters), **(schema_extra or {}))
    if patch is not None:
        patch(schema)
    tool.parameters = schema
    return tool


def _paid(title: str) -> ToolAnnotations:
    return ToolAnnotations(title=title, destructive_hint=False, idempotent_hint=False, open_world_hint=True)


def _read(title: str) -> ToolAnnotations:
    return ToolAnnotations(title=title, read_only_hint=True, idempotent_hint=True, open_world_hint=True)


def build_tools(service: VideoService, meta: Mapping[str, dict[str, Any]] | None = None) -> list[Tool]:
    """All tools (or those named by SORA_MCP_TOOLS). `meta`: extra `_meta` per tool name (e.g. a UI link)."""
    wait = service.settings.max_wait_s
    status_result = results.StatusShaper(wait, service.stored_bytes)
    meta = meta or {}

    @needs_approval(create_gate(service))
    async def create_video(
        prompt: Prompt,
        ctx: Context,
        model: Model = "sora-2",
        size: Size = "1280x720",
        seconds: Seconds = "4",
        input_reference: InputReference = None,
        shot: Shot = None,
        augment: Augment = True,
        extra: Extra = None,
        dry_run: DryRun = False,
        backend: BackendName = None,
        *,
        approval: ApprovalAnswer,
    ) -> CallToolResult:
        """Start a video from a text prompt; returns the job at once (queued).
        Next: get_status(video_id, wait_seconds=WAIT); call get_status again with the same wait until all_done.
        shot: optional details (scene, camera, palette, avoid, ...) woven into a structured prompt; the result shows
        the prompt sent. Sizes, durations, prices: sora://models. dry_run=true makes every check and quotes the cost
        without creating anything. Above the budget the user is asked to approve. Many clips: create_batch.
        """
        req = CreateRequest(
            prompt=prompt,
            model=model,
            size=size,
            seconds=seconds,
            input_reference=input_reference,
            augment=augment,
            fields=shot_fields(shot),
            extra=extra,
            backend=backend,
        )
        job = await service.create(req, dry_run=dry_run, approve=approver_for(ctx, approval))
        return results.started(job, "create", wait)

    @needs_approval(derive_gate(service, "remix"))
    async def remix_video(
        video_id: VideoId,
        prompt: Prompt,
        ctx: Context,
        shot: Shot = None,
        augment: Augment = True,
        extra: Extra = None,
        dry_run: DryRun = False,
        *,
        approval: ApprovalAnswer,
    ) -> CallToolResult:
        """Remix: generate a new take of a completed video from a full prompt stating the one change ("same shot, at dusk").
        Keeps the source's model, size and length (longer: extend_video). Returns the new job at once; next
        get_status as after create_video.
        """
        req = DeriveRequest(
            video_id=video_id, prompt=prompt, augment=augment, fields=shot_fields(shot), extra=extra
        )
        job = await service.derive("remix", req, dry_run=dry_run, approve=approver_for(ctx, approval))
        return results.started(job, "remix", wait)

    @needs_approval(derive_gate(service, "extend"))
    async def extend_video(
        video_id: VideoId,
        prompt: Prompt,
        ctx: Context,
        seconds: Annotated[str | int, Field(description="Length of the NEW segment (4, 8 or 12).")] = "4",
        augment: Augment = True,
        extra: Extra = None,
        dry_run: DryRun = False,
        *,
        approval: ApprovalAnswer,
    ) -> CallToolResult:
        """Extend: continue a completed video with a new segment that picks up from its last frame.
        The new job's seconds is the stitched total; only the new segment is billed. Refused clearly where the
        backend cannot extend.
        """
        req = DeriveRequest(video_id=video_id, prompt=prompt, seconds=seconds, augment=augment, extra=extra)
        job = await service.derive("extend", req, dry_run=dry_run, approve=approver_for(ctx, approval))
        return results.started(job, "extend", wait)

    @needs_approval(derive_gate(service, "edit"))
    async def edit_video(
        video_id: VideoId,
        prompt: Prompt,
        ctx: Context,
        augment: Augment = True,
        extra: Extra = None,
        dry_run: DryRun = False,
        *,
        approval: ApprovalAnswer,
    ) -> CallToolResult:
        """Edit: apply a short instruction to a completed video ("remove the sign") and keep everything else.
        Only where the backend can edit (a clear refusal otherwise).
        """
        req = DeriveRequest(video_id=video_id, prompt=prompt, augment=augment, extra=extra)
        job = await service.derive("edit", req, dry_run=dry_run, approve=approver_for(ctx, approval))
        return results.started(job, "edit", wait)

    @needs_approval(batch_gate(service))
    async def create_batch(
        ctx: Context,
        jobs: BatchJobs = None,
        jsonl_path: JsonlPath = None,
        model: Annotated[str | None, Field(description="Default model.")] = None,
        size: Annotated[str | None, Field(description="Default size.")] = None,
        seconds: Annotated[str | int | None, Field(description="Default duration.")] = None,
        augment: Annotated[bool | None, Field(description="Default augment.")] = None,
        concurrency: Annotated[int, Field(ge=1, le=10, description="Creates in flight at once.")] = 3,
        max_attempts: Annotated[int, Field(ge=1, le=10, description="Sends per job on 429/unreachable.")] = 3,
        fail_fast: Annotated[
            bool, Field(description="Stop after the first failure; an invalid job sends nothing.")
        ] = False,
        dry_run: DryRun = False,
        *,
        approval: ApprovalAnswer,
    ) -> CallToolResult:
        """Start many videos at once from a list or a JSONL file; one result per job.
        All jobs are checked and priced first; over the budget the user is asked once. 429s are retried; a create
        whose answer was lost is reconciled, never sent twice. Next: get_status(video_ids=[...], wait_seconds=WAIT).
        """
        outcome = await service.create_batch(
            flat_jobs(jobs),
            jsonl_path,
            defaults=batch_defaults(model, size, seconds, augment),
            concurrency=concurrency,
            max_attempts=max_attempts,
            fail_fast=fail_fast,
            dry_run=dry_run,
            approve=approver_for(ctx, approval),
            on_progress=ctx.report_progress,
        )
        return results.batch(outcome, wait)

    async def get_status(
        ctx: Context,
        video_id: Annotated[str | None, Field(description="One job.")] = None,
        video_ids: Annotated[
            list[str] | None, Field(max_length=50, description="Several jobs (up to 50).")
        ] = None,
        wait_seconds: Annotated[
            float,
            Field(
                ge=0, description="Wait up to this long for the job(s) to end, with progress. 0 = check once."
            ),
        ] = 0,
        thumbnail: Annotated[bool, Field(description="Show the thumbnail again.")] = False,
    ) -> CallToolResult:
        """Check one job (video_id) or several (video_ids) and optionally wait for them to end.
        Polling: get_status(video_id, wait_seconds=WAIT); call get_status again with the same wait until all_done
        (the jobs keep running). Completed jobs are archived into the library; the result lists the files' paths,
        and a job's thumbnail is shown the first time it is seen completed.
        """
        ids = one_or_many(video_id, video_ids)
        if wait_seconds > 0:
            jobs = await service.wait(ids, wait_seconds, ctx.report_progress)
        else:
            jobs = [await service.get_status(i) for i in ids]
        return await status_result(
            ids, jobs, waited=wait_seconds > 0, again=thumbnail, archiving=service.archiving
        )

    async def list_videos(
        limit: Annotated[int, Field(ge=1, le=100, description="Page size.")] = 20,
        after: Annotated[str | None, Field(description="Cursor from the previous page.")] = None,
        order: Annotated[Literal["desc", "asc"], Field(description="desc = newest first.")] = "desc",
        status: Annotated[Status | None, Field(description="Only this status.")] = None,
        model: Annotated[str | None, Field(description="Only this model.")] = None,
        created_since: Annotated[
            int | None, Field(ge=0, description="Only jobs created since (Unix time).")
        ] = None,
        text: Annotated[
            str | None, Field(max_length=1000, description="Only prompts containing this text.")
        ] = None,
    ) -> CallToolResult:
        """List jobs, newest first: the backend's and the local library's, merged (where: remote, local or both).
        One line each; the full record is in structuredContent and sora://videos/{id}. text finds "the sunset clip".
        """
        page = await service.list_jobs(
            limit=limit, after=after, order=order, status=status, model=model, since=created_since, text=text
        )
        return results.result(tool_text.list_text(page), page)

    async def download_asset(
        video_id: VideoId,
        variant: Annotated[
            Literal["video", "thumbnail", "spritesheet"],
            Field(description="video (MP4), thumbnail (WebP) or spritesheet (JPEG)."),
        ] = "video",
        destination: Annotated[
            str | None,
            Field(description="Also copy it here: a file or folder path inside the allowed folders."),
        ] = None,
        overwrite: Annotated[bool, Field(description="Replace an existing destination file.")] = False,
    ) -> CallToolResult:
        """Save a completed job's MP4, thumbnail or spritesheet into the library and return its path.
        destination copies it where the user wants it. Works from the library after the backend's link expired.
        """
        asset = await service.download(video_id, variant)
        copied = await service.export(asset, destination, overwrite=overwrite) if destination else None
        return await results.asset(asset, copied, service.stored_bytes)

    async def delete_video(
        video_id: VideoId,
        delete_local_files: Annotated[bool, Field(description="Also delete the archived files.")] = False,
    ) -> CallToolResult:
        """Delete a video on the backend. Archived local files are kept unless delete_local_files=true."""
        outcome = await service.delete(video_id, delete_local_files=delete_local_files)
        return results.delete(video_id, outcome)

    async def get_spend() -> CallToolResult:
        """What video generation has cost so far (estimates: today, this month, total) and the budget left."""
        summary = service.spend_summary()
        return results.result(tool_text.spend_text(summary), summary)

    def _wait_limit(schema: dict[str, Any]) -> None:
        schema["properties"]["wait_seconds"]["maximum"] = wait

    for fn in (create_video, create_batch, get_status):
        fn.__doc__ = (fn.__doc__ or "").replace("WAIT", f"{wait:g}")
    one_of = {"oneOf": [{"required": ["video_id"]}, {"required": ["video_ids"]}]}
    tools = [
        _make(create_video, _paid("Create a video"), meta),
        _make(remix_video, _paid("Remix a video"), meta),
        _make(extend_video, _paid("Extend a video"), meta),
        _make(edit_video, _paid("Edit a video"), meta),
        _make(create_batch, _paid("Create many videos"), meta),
        _make(get_status, _read("Get job status"), meta, one_of, _wait_limit),
        _make(list_videos, _read("List videos"), meta),
        _make(
            download_asset,
            ToolAnnotations(
                title="Download a video asset",
                read_only_hint=False,
                destructive_hint=False,
                idempotent_hint=True,
                open_world_hint=True,
            ),
            meta,
        ),
        _make(
            delete_video,
            ToolAnnotations(
                title="Delete a video", destructive_hint=True, idempotent_hint=True, open_world_hint=True
            ),
            meta,
        ),
        _make(
            get_spend,
            ToolAnnotations(
                title="Spend so far", read_only_hint=True, idempotent_hint=True, open_world_hint=False
            ),
            meta,
        ),
    ]
    return select(tools, service.settings.tools)


def select(tools: list[Tool], names: list[str]) -> list[Tool]:
    """The tools SORA_MCP_TOOLS names (all when unset); an unknown name is a configuration error."""
    if not names:
        return tools
    known = {t.name for t in tools}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(
            f"SORA_MCP_TOOLS names unknown tools: {', '.join(unknown)}",
            fix=f"Use names from: {', '.join(sorted(known))}.",
        )
    return [t for t in tools if t.name in names]
