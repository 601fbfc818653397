"""The MCP tools: thin front ends over VideoService. Docstrings are what the agent reads.

Each tool is built with the SDK's public `Tool.from_function`, then its input schema is
compacted and closed (see `tool_check`): the agent reads every byte of tools/list, so titles,
null arms and output schemas (no client needs them: the text block and `structuredContent`
carry the result) are left out. Results are a short text for the agent (`tool_text`) plus the
full record as `structuredContent`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field, WithJsonSchema

import sora_mcp.server.text as tool_text
from sora_mcp.errors import ConfigError, InvalidInput
from sora_mcp.models import TERMINAL_STATUSES, Job
from sora_mcp.prompting import AugmentFields
from sora_mcp.server.check import close_schema, compact_schema
from sora_mcp.server.params import (
    ApprovalAnswer,
    Augment,
    BackendName,
    DryRun,
    Extra,
    InputReference,
    Model,
    Prompt,
    Seconds,
    Shot,
    Size,
    VideoId,
    approver_for,
    batch_defaults,
    batch_gate,
    create_gate,
    derive_gate,
    disk_guard,
    needs_approval,
)
from sora_mcp.service import CreateRequest, DeriveRequest, VideoService

SHOWN_MAX = 10_000  # jobs whose thumbnail was shown, remembered so it is not sent again
Status = Literal["queued", "in_progress", "completed", "failed", "cancelled", "expired", "deleted"]
BATCH_JOB_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "prompt": {"type": "string"},
        "model": {"type": "string"},
        "size": {"type": "string"},
        "seconds": {"type": ["string", "integer"]},
        "input_reference": {"type": "string"},
        "augment": {"type": "boolean"},
        "shot": {"type": "object"},
        "extra": {"type": "object"},
        "backend": {"type": "string"},
    },
    # Not closed: a job may also give the shot fields flat (as a JSONL line does); unknown keys are
    # refused per job by the batch, naming the allowed ones.
}


class StatusResult(BaseModel):
    """The state of one or more jobs."""

    jobs: list[Job]
    all_done: bool = Field(description="True when every job has ended (completed, failed, ...).")
    timed_out: bool = Field(
        description="True when wait_seconds passed before every job ended; the jobs keep running."
    )
    next_step: str


def _result(
    text: str, structured: BaseModel | dict[str, Any], extra: list[Any] | None = None
) -> CallToolResult:
    # Every field, nulls included, as the SDK would dump a return value: clients (and the app) read keys.
    data = structured.model_dump(mode="json") if isinstance(structured, BaseModel) else structured
    return CallToolResult(content=[tool_text.text(text), *(extra or [])], structured_content=data)


def _shot(shot: AugmentFields | dict[str, Any] | None) -> AugmentFields:
    return AugmentFields.model_validate(shot or {})


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


def build_tools(service: VideoService, meta: Mapping[str, dict[str, Any]] | None = None) -> list[Tool]:
    """All tools (or those named by SORA_MCP_TOOLS). `meta`: extra `_meta` per tool name (e.g. a UI link)."""
    wait = service.settings.max_wait_s
    shown: set[str] = set()
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
            fields=_shot(shot),
            extra=extra,
            backend=backend,
        )
        job = await service.create(req, dry_run=dry_run, approve=approver_for(ctx, approval))
        return _started(job, "create")

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
            video_id=video_id, prompt=prompt, augment=augment, fields=_shot(shot), extra=extra
        )
        return _started(
            await service.derive("remix", req, dry_run=dry_run, approve=approver_for(ctx, approval)), "remix"
        )

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
        return _started(
            await service.derive("extend", req, dry_run=dry_run, approve=approver_for(ctx, approval)),
            "extend",
        )

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
        return _started(
            await service.derive("edit", req, dry_run=dry_run, approve=approver_for(ctx, approval)), "edit"
        )

    @needs_approval(batch_gate(service))
    async def create_batch(
        ctx: Context,
        jobs: Annotated[
            list[dict[str, Any]] | None,
            WithJsonSchema(
                {
                    "type": "array",
                    "maxItems": 100,
                    "items": BATCH_JOB_SCHEMA,
                    "description": "The jobs: each like create_video's arguments.",
                }
            ),
        ] = None,
        jsonl_path: Annotated[
            str | None,
            Field(
                description="Or a .jsonl file in the allowed folders: one job (JSON object or plain prompt) per line."
            ),
        ] = None,
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

        async def progress(done: float, total: float, message: str) -> None:
            await ctx.report_progress(done, total, message)

        specs = None if jobs is None else [_flat(j) for j in jobs]
        result = await service.create_batch(
            specs,
            jsonl_path,
            defaults=batch_defaults(model, size, seconds, augment),
            concurrency=concurrency,
            max_attempts=max_attempts,
            fail_fast=fail_fast,
            dry_run=dry_run,
            approve=approver_for(ctx, approval),
            on_progress=progress,
        )
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
        lines.append("Next: " + (tool_text.wait_step(ids, wait) if ids else result.next_step))
        return _result("\n".join(lines), result)

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
        if (video_id is None) == (video_ids is None) or not (video_id or video_ids):
            # The argument check refuses this first; kept for callers that bypass it (MCPServer.call_tool).
            raise InvalidInput(
                "get_status needs exactly one of video_id or video_ids",
                fix="Pass video_id for one job, or video_ids (a list) for several, not both.",
            )
        ids = list(dict.fromkeys([video_id] if video_id else list(video_ids or [])))

        async def progress(done: float, total: float, message: str) -> None:
            await ctx.report_progress(done, total, message)

        jobs = (
            await service.wait(ids, wait_seconds, progress)
            if wait_seconds > 0
            else [await service.get_status(i) for i in ids]
        )
        all_done = all(j.status in TERMINAL_STATUSES for j in jobs)
        archiving = {j.id for j in jobs if service.archiving(j.id)}
        for j in jobs:
            if j.status in ("queued", "in_progress"):
                j.next_step = "Call " + tool_text.wait_step([j.id], wait)
        step = (
            tool_text.done_step(jobs[0])
            if all_done and len(jobs) == 1
            else ("All ended." if all_done else "Call " + tool_text.wait_step(ids, wait))
        )
        result = StatusResult(
            jobs=jobs, all_done=all_done, timed_out=wait_seconds > 0 and not all_done, next_step=step
        )
        images: list[Any] = []
        for job in jobs:
            thumb = next((a for a in job.assets if a.variant == "thumbnail"), None)
            if (
                job.status == "completed"
                and thumb is not None
                and (thumbnail or job.id not in shown)
                and len(images) < 8
            ):
                images += await anyio.to_thread.run_sync(tool_text.thumbnail, thumb)
                if len(shown) > SHOWN_MAX:
                    shown.clear()
                shown.add(job.id)
        text = tool_text.status_text(jobs, all_done=all_done, wait=wait, archiving=archiving)
        return _result(text, result, images)

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
        return _result(tool_text.list_text(page), page)

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
        images = await anyio.to_thread.run_sync(tool_text.thumbnail, asset) if variant == "thumbnail" else []
        data = asset.model_dump(mode="json") | ({"copied_to": str(copied)} if copied else {})
        return _result(tool_text.asset_text(asset, copied_to=copied), data, images)

    async def delete_video(
        video_id: VideoId,
        delete_local_files: Annotated[bool, Field(description="Also delete the archived files.")] = False,
    ) -> CallToolResult:
        """Delete a video on the backend. Archived local files are kept unless delete_local_files=true."""
        result = await service.delete(video_id, delete_local_files=delete_local_files)
        text = (
            f"{video_id}: {'deleted' if result.deleted else 'not deleted'} on the backend"
            + ("; local files deleted." if result.local_files_deleted else ".")
            + (f" {result.note}" if result.note else "")
        )
        return _result(text, result)

    async def get_spend() -> CallToolResult:
        """What video generation has cost so far (estimates: today, this month, total) and the budget left."""
        summary = service.spend_summary()
        return _result(tool_text.spend_text(summary), summary)

    def _started(job: Job, kind: str) -> CallToolResult:
        if job.status == "dry_run":
            return _result(tool_text.dry_run_text(job), job)
        # The service may put a note before its next step (e.g. a model with unverified catalog values).
        given = job.next_step or ""
        note = given.split(" Call get_status", 1)[0] if " Call get_status" in given else None
        job.next_step = (f"{note} " if note else "") + "Call " + tool_text.wait_step([job.id], wait)
        return _result(tool_text.started_text(job, kind, wait, note), job)

    def _wait_limit(schema: dict[str, Any]) -> None:
        schema["properties"]["wait_seconds"]["maximum"] = wait

    for fn in (create_video, create_batch, get_status):
        fn.__doc__ = (fn.__doc__ or "").replace("WAIT", f"{wait:g}")
    one_of = {"oneOf": [{"required": ["video_id"]}, {"required": ["video_ids"]}]}
    read_only = {"read_only_hint": True, "idempotent_hint": True, "open_world_hint": True}
    tools = [
        _make(create_video, _paid("Create a video"), meta),
        _make(remix_video, _paid("Remix a video"), meta),
        _make(extend_video, _paid("Extend a video"), meta),
        _make(edit_video, _paid("Edit a video"), meta),
        _make(create_batch, _paid("Create many videos"), meta),
        _make(get_status, ToolAnnotations(title="Get job status", **read_only), meta, one_of, _wait_limit),
        _make(list_videos, ToolAnnotations(title="List videos", **read_only), meta),
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


def _flat(job: dict[str, Any]) -> dict[str, Any]:
    """A batch job as the service reads it: the `shot` details beside the other keys."""
    out = {k: v for k, v in job.items() if k != "shot" and v is not None}
    out.update({k: v for k, v in (job.get("shot") or {}).items() if v is not None})
    return out
