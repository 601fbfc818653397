"""Argument types shared by the MCP tools, the `shot` object and the budget gates.

The fourteen shot details are declared once (on `AugmentFields`) and reach the agent as one
`shot` object whose fields are named, not described: `sora://prompt-template` explains them, so
they are not repeated in every tool's schema. `needs_approval(gate)` adds a hidden parameter
that a resolver fills with the user's budget approval before the tool runs.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resolve import Elicit, Resolve
from mcp_types.version import is_version_at_least
from pydantic import BaseModel, Field, WithJsonSchema

from sora_mcp.errors import SoraError, as_disk_full
from sora_mcp.models import Quote
from sora_mcp.prompting import AugmentFields
from sora_mcp.service import VideoService
from sora_mcp.service.budget import Approver
from sora_mcp.service.requests import CreateRequest, DeriveRequest

SHOT_FIELDS = tuple(AugmentFields.model_fields)
SHOT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Optional shot details, one labelled prompt line each (sora://prompt-template).",
    # Names only (the template explains them): listing `properties` would cost ~20 bytes more per field.
    "propertyNames": {"enum": list(SHOT_FIELDS)},
    "additionalProperties": {"type": "string"},
}

Prompt = Annotated[str, Field(description="What the video shows (1-32000 characters).")]
VideoId = Annotated[str, Field(description="A job id from create_video or list_videos.")]
Model = Annotated[str, Field(description="Model id (sora://models lists sizes and durations).")]
Size = Annotated[str, Field(description="WIDTHxHEIGHT: 1280x720 landscape, 720x1280 portrait.")]
Seconds = Annotated[str | int, Field(description="Duration: 4, 8 or 12 for the sora-2 family.")]
InputReference = Annotated[
    str | None,
    Field(
        description="First-frame image: a jpg/png/webp path in the allowed folders, an https or data: URL, "
        "or a file id."
    ),
]
Shot = Annotated[AugmentFields | None, WithJsonSchema(SHOT_SCHEMA)]
Augment = Annotated[bool, Field(description="false: send the prompt exactly as written.")]
Extra = Annotated[
    dict[str, Any] | None,
    WithJsonSchema({"type": "object", "description": "Backend fields passed through (e.g. seed)."}),
]
DryRun = Annotated[bool, Field(description="Run every check and quote the cost; create nothing.")]
BackendName = Annotated[
    str | None,
    Field(description="A backend named in the backends file; only needed when several serve the model."),
]

F = TypeVar("F", bound=Callable[..., Any])


def disk_guard(fn: F) -> F:
    """Answer a full disk (an OSError or SQLite's "disk is full", from any layer) as `DiskFull`.

    Without it the SDK would show only "Error executing tool X": a crash, not a fix.
    """

    @functools.wraps(fn)
    async def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return await fn(*args, **kwargs)
        except SoraError:
            raise
        except Exception as exc:
            if (full := as_disk_full(exc)) is not None:
                raise full from None
            raise

    return guarded  # type: ignore[return-value]


class Approval(BaseModel):
    approve: bool = Field(description="Spend the money on this request?")


# What a budget gate injects: the user's answer, or (gate did not ask) an accepted `None`.
ApprovalAnswer = ElicitationResult[Approval]
Gate = Callable[..., Awaitable["Elicit[Approval] | None"]]


def can_elicit(ctx: Any) -> bool:
    """Whether the client declared form elicitation (a bare `elicitation: {}` counts)."""
    caps = getattr(ctx, "client_capabilities", None)
    elicitation = getattr(caps, "elicitation", None)
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def needs_approval(gate: Gate) -> Callable[[F], F]:
    """Make the tool's `approval` parameter hidden and filled by `gate` before the tool runs.

    The gate prices the call; when it would cross the remaining budget and the client can be
    asked, it returns `Elicit(...)`. The framework asks on either protocol (a mid-call
    `elicitation/create` on 2025-11-25, an `input_required` round on 2026-07-28) and injects the
    answer; resolver parameters never appear in the tool's input schema.
    """

    def wrap(fn: F) -> F:
        sig = inspect.signature(fn, eval_str=True)
        # The tool declares `approval: ApprovalAnswer` (keyword-only); the gate is attached here
        # because it closes over the service, which a string annotation could not name.
        annotation = Annotated[ApprovalAnswer, Resolve(gate)]
        params = [
            p.replace(annotation=annotation) if p.name == "approval" else p for p in sig.parameters.values()
        ]
        fn.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        fn.__annotations__ = {p.name: p.annotation for p in params} | {"return": sig.return_annotation}
        return fn

    return wrap


def approval_message(reason: str | None) -> Elicit[Approval] | None:
    return None if reason is None else Elicit(f"{reason} Approve this spend once?", Approval)


def approver_for(ctx: Any, answer: ApprovalAnswer | None = None) -> Approver:
    """The service's `approve(quote, reason)` for one tool call.

    If the gate asked, its answer stands (accept + approve=true; decline/cancel = no). If it did
    not (the quote fitted when it looked), the user is asked now where the protocol allows a
    mid-call request (2025-11-25); otherwise None: nobody could be asked, so the call is refused.
    """
    asked = answer is not None and not (isinstance(answer, AcceptedElicitation) and answer.data is None)

    async def approve(quote: Any, reason: str) -> bool | None:
        if asked:
            return isinstance(answer, AcceptedElicitation) and bool(getattr(answer.data, "approve", False))
        version = getattr(ctx, "protocol_version", None)
        if not can_elicit(ctx) or (version is not None and is_version_at_least(version, "2026-07-28")):
            return None
        result = await ctx.elicit(f"{reason} Approve this spend once?", Approval)
        return getattr(result, "action", None) == "accept" and bool(getattr(result.data, "approve", False))

    return approve


# ---- budget gates: one per paid tool, each taking the tool's own arguments by name ----------


async def _over(service: VideoService, quote: Quote) -> str | None:
    return service.over_budget(quote)


def create_gate(service: VideoService) -> Gate:
    async def approve_create(
        ctx: Context, prompt: Any, model: Any, size: Any, seconds: Any, dry_run: Any
    ) -> Elicit[Approval] | None:
        if dry_run or not can_elicit(ctx):
            return None
        try:
            await service.refresh_catalog(service.route(model))
            _, _, quote = service.quote_create(
                CreateRequest(prompt=prompt, model=model, size=size, seconds=seconds, augment=False)
            )
        except SoraError:
            return None  # the tool itself refuses the call with the full message
        return approval_message(await _over(service, quote))

    return approve_create


def derive_gate(service: VideoService, kind: str) -> Gate:
    async def approve_derive(
        ctx: Context, video_id: Any, prompt: Any, dry_run: Any
    ) -> Elicit[Approval] | None:
        if dry_run or not can_elicit(ctx):
            return None
        try:
            plan = await service.quote_derive(
                kind, DeriveRequest(video_id=video_id, prompt=prompt, augment=False)
            )
        except SoraError:
            return None
        return approval_message(await _over(service, plan.quote))

    async def approve_extend(
        ctx: Context, video_id: Any, prompt: Any, seconds: Any, dry_run: Any
    ) -> Elicit[Approval] | None:
        if dry_run or not can_elicit(ctx):
            return None
        try:
            req = DeriveRequest(video_id=video_id, prompt=prompt, seconds=seconds, augment=False)
            plan = await service.quote_derive("extend", req)
        except SoraError:
            return None
        return approval_message(await _over(service, plan.quote))

    return approve_extend if kind == "extend" else approve_derive


def batch_gate(service: VideoService) -> Gate:
    async def approve_batch(
        ctx: Context,
        jobs: Any,
        jsonl_path: Any,
        model: Any,
        size: Any,
        seconds: Any,
        augment: Any,
        dry_run: Any,
    ) -> Elicit[Approval] | None:
        from sora_mcp.service.batch import batch_quote

        if dry_run or not can_elicit(ctx):
            return None
        defaults = batch_defaults(model, size, seconds, augment)
        try:
            lines = await service.plan_batch(jobs, jsonl_path, defaults)
        except SoraError:
            return None
        return approval_message(await _over(service, batch_quote(lines)))

    return approve_batch


def batch_defaults(
    model: str | None, size: str | None, seconds: str | int | None, augment: bool | None
) -> dict[str, Any]:
    given = {"model": model, "size": size, "seconds": seconds, "augment": augment}
    return {k: v for k, v in given.items() if v is not None}
