"""Argument types shared by the MCP tools, and the augmentation-field parameters.

The fourteen prompt-augmentation fields are declared once (on `AugmentFields`); `augmentable`
adds them to a tool's signature as keyword parameters, so the tool schema lists each with its
description without the tools repeating them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, Field

from sora_mcp.prompting import AugmentFields

Prompt = Annotated[str, Field(description="What the video should show (1-32000 characters).")]
VideoId = Annotated[str, Field(description="The job id returned by create_video or list_videos.")]
Model = Annotated[str, Field(description="Model id; see the sora://models resource for sizes and durations.")]
Size = Annotated[str, Field(description="WIDTHxHEIGHT, e.g. 1280x720 (landscape) or 720x1280 (portrait).")]
Seconds = Annotated[str | int, Field(description="Duration in seconds: 4, 8 or 12 for the sora-2 family.")]
InputReference = Annotated[
    str | None,
    Field(description="Optional first-frame image: a local jpg/png/webp path inside the allowed folders, an https "
                      "URL, a data: URL or a file_id. Fitted to the target size."),
]
Augment = Annotated[bool, Field(description="Weave the optional fields into the structured prompt template.")]
Extra = Annotated[
    dict[str, Any] | None,
    Field(description="Extra backend-specific fields passed through as-is (e.g. seed, negative_prompt, fps)."),
]
DryRun = Annotated[bool, Field(description="Only validate, augment and quote the cost; create nothing.")]

AugmentArgs = AugmentFields
F = TypeVar("F", bound=Callable[..., Any])


def augmentable(fn: F) -> F:
    """Replace a tool's `**fields` with one keyword parameter per augmentation field."""
    sig = inspect.signature(fn, eval_str=True)
    params = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    for name, info in AugmentFields.model_fields.items():
        annotation = Annotated[str | None, Field(description=info.description or name)]
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation))
    fn.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    fn.__annotations__ = {p.name: p.annotation for p in params} | {"return": sig.return_annotation}
    return fn


def augment_fields(values: dict[str, Any]) -> AugmentFields:
    return AugmentFields(**{k: v for k, v in values.items() if k in AugmentFields.model_fields and v is not None})


class Approval(BaseModel):
    approve: bool = Field(description="Spend the money on this request?")


def approver_for(ctx: Any) -> Callable[..., Any] | None:
    """An approval callback asking the user through MCP elicitation, when the client can be asked."""
    caps = getattr(ctx, "client_capabilities", None)
    if caps is None or getattr(caps, "elicitation", None) is None:
        return None

    async def approve(quote: Any, reason: str) -> bool:
        result = await ctx.elicit(f"{reason} Approve this spend once?", Approval)
        return getattr(result, "action", None) == "accept" and bool(getattr(result.data, "approve", False))

    return approve
