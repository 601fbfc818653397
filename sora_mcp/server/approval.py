"""Budget approval for the paid tools: a gate prices the call before it runs, the user answers.

`needs_approval(gate)` fills a tool's hidden `approval` parameter through the SDK's resolver
(`Resolve`): the gate prices the call with the tool's own arguments and, when it would cross the
remaining budget and the client can be asked, returns `Elicit(...)`. The SDK asks on either
protocol and injects the answer; `approver_for` turns it into the service's `approve(quote,
reason)` callback (asking mid-call on 2025-11-25 when the gate did not).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal, TypeVar

from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resolve import Elicit, Resolve
from mcp_types.version import is_version_at_least
from pydantic import BaseModel, Field

from sora_mcp.errors import SoraError
from sora_mcp.models import Quote
from sora_mcp.server.params import batch_defaults
from sora_mcp.server.signature import replace_annotations
from sora_mcp.service import Approver, CreateRequest, DeriveRequest, VideoService

F = TypeVar("F", bound=Callable[..., Any])
DeriveKind = Literal["remix", "extend", "edit"]


class Approval(BaseModel):
    approve: bool = Field(description="Spend the money on this request?")


# What a budget gate injects: the user's answer, or (gate did not ask) an accepted `None`.
ApprovalAnswer = ElicitationResult[Approval]
Gate = Callable[..., Awaitable["Elicit[Approval] | None"]]


def can_elicit(ctx: Context) -> bool:
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
        # The tool declares `approval: ApprovalAnswer` (keyword-only); the gate is attached here
        # because it closes over the service, which a string annotation could not name.
        return replace_annotations(fn, {"approval": Annotated[ApprovalAnswer, Resolve(gate)]})

    return wrap


def approval_message(reason: str | None) -> Elicit[Approval] | None:
    return None if reason is None else Elicit(f"{reason} Approve this spend once?", Approval)


def approver_for(ctx: Context, answer: ApprovalAnswer | None = None) -> Approver:
    """The service's `approve(quote, reason)` for one tool call.

    If the gate asked, its answer stands (accept + approve=true; decline/cancel = no). If it did
    not (the quote fitted when it looked), the user is asked now where the protocol allows a
    mid-call request (2025-11-25); otherwise None: nobody could be asked, so the call is refused.
    """
    asked = answer is not None and not (isinstance(answer, AcceptedElicitation) and answer.data is None)

    async def approve(quote: Quote, reason: str) -> bool | None:
        if asked:
            return isinstance(answer, AcceptedElicitation) and bool(getattr(answer.data, "approve", False))
        version = getattr(ctx, "protocol_version", None)
        if not can_elicit(ctx) or (version is not None and is_version_at_least(version, "2026-07-28")):
            return None
        result = await ctx.elicit(f"{reason} Approve this spend once?", Approval)
        return isinstance(result, AcceptedElicitation) and bool(getattr(result.data, "approve", False))

    return approve


# ---- budget gates: one per paid tool, each taking the tool's own arguments by name ----------


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
        return approval_message(service.over_budget(quote))

    return approve_create


def derive_gate(service: VideoService, kind: DeriveKind) -> Gate:
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
        return approval_message(service.over_budget(plan.quote))

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
        return approval_message(service.over_budget(plan.quote))

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
        return approval_message(service.over_budget(batch_quote(lines)))

    return approve_batch
