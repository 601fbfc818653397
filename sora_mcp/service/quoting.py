"""Quoting: what a paid request will send and cost, checked before anything is sent.

Validate against the catalog (the shipped one, or the provider's own list), augment the prompt,
check it against the guardrails, price it, and weigh it against the budget (counting what paid
requests in flight have reserved). A dry run is answered from here, without any backend call
that could create or bill anything.
"""

from __future__ import annotations

from typing import NamedTuple, cast

from sora_mcp.errors import InvalidInput, Unsupported
from sora_mcp.models import Job, Quote
from sora_mcp.prompting import Feature, ValidatedRequest, augment, check_prompt
from sora_mcp.service import budget
from sora_mcp.service.budget import Approver
from sora_mcp.service.context import ServiceContext
from sora_mcp.service.requests import CreateRequest, DeriveRequest
from sora_mcp.service.requests import check_id as _check_id


class DerivePlan(NamedTuple):
    """A priced remix/extend/edit: what will be sent and what it should cost."""

    prompt_sent: str
    model: str | None
    size: str | None
    seconds_out: str | None  # the new job's length (the stitched total for extend)
    new_seconds: str | None  # extend only: the new segment's length
    quote: Quote


def prepare_prompt(ctx: ServiceContext, prompt: str, req: CreateRequest | DeriveRequest) -> str:
    sent = augment(prompt, req.fields, enabled=req.augment)
    check_prompt(sent, ctx.settings.denylist)
    return sent


def quote_create(ctx: ServiceContext, req: CreateRequest) -> tuple[str, ValidatedRequest, Quote]:
    """Validate, augment and price a create without calling the backend."""
    prompt_sent = prepare_prompt(ctx, req.prompt, req)
    name = ctx.backends.route(req.model, req.backend)
    catalog = ctx.catalogs.for_backend(name)
    valid = catalog.validate(
        req.model, req.size, req.seconds, strict=ctx.settings.strict_models, prompt=prompt_sent
    )
    assert valid.size is not None and valid.seconds is not None  # a create's validation fills both
    quote = catalog.quote(valid.model, valid.size, valid.seconds, engine=ctx.uses_engine and name is None)
    if req.input_reference and catalog.provider and catalog.supports(valid.model, "input_reference") is False:
        able = [m.id for m in catalog.models() if m.supports.input_reference]
        raise InvalidInput(
            f"{valid.model} takes no first-frame image on {catalog.provider}",
            fix="Leave input_reference out" + (f", or use one of: {', '.join(able)}." if able else "."),
        )
    return prompt_sent, valid, quote


async def quote_derive(
    ctx: ServiceContext, kind: str, req: DeriveRequest, *, offline: bool = False
) -> DerivePlan:
    """Validate, augment and price a remix/extend/edit. The source's model, size and length come
    from the ledger, else from the backend (a read) unless `offline`."""
    _check_id(req.video_id)  # a huge or control-character id must not reach the URL builder
    source = ctx.ledger.get(req.video_id)
    name = ctx.job_backend(req.video_id)  # a derived job is made where its source lives
    catalog = ctx.catalogs.for_backend(name)
    engine = ctx.uses_engine and name is None
    prompt_sent = prepare_prompt(ctx, req.prompt, req)
    model, size, seconds = (getattr(source, a, None) for a in ("model", "size", "seconds"))
    if not offline:
        await (await ctx.backends.get(name)).require(kind)  # a backend lacking the feature is named first
    if source is None and not offline:
        remote_src = await (await ctx.backends.get(name)).retrieve(req.video_id)
        model, size, seconds = remote_src.model, remote_src.size, remote_src.seconds
    new_seconds: str | None = None
    seconds_out: str | None
    if kind == "extend":
        if req.seconds is None:
            raise InvalidInput(
                "extend needs `seconds`: how long the new segment is", fix="Pass seconds=4 (or 8, 12)."
            )
        valid = catalog.validate(
            model or "sora-2",
            size or "1280x720",
            req.seconds,
            kind="extend",
            strict=ctx.settings.strict_models,
        )
        assert valid.size is not None and valid.seconds is not None  # both were passed in
        quote = catalog.quote(valid.model, valid.size, valid.seconds, engine=engine)
        new_seconds, seconds_out = valid.seconds, str(int(seconds or 0) + int(valid.seconds))
        # The job's quote names the job's length (the stitched total), as the ledger's record of
        # the real job will; the price is for the new segment only, and the note says so.
        quote = quote.model_copy(
            update={
                "seconds": seconds_out,
                "note": (f"{quote.note}; billed for the {new_seconds} s new segment, {seconds_out} s in all"),
            }
        )
    else:
        quote = catalog.quote(model or "unknown", size or "", seconds or "0", engine=engine)
        seconds_out = seconds
    if model and catalog.supports(model, cast(Feature, kind)) is False:  # remix, extend or edit
        raise Unsupported(
            f"The model {model} does not support {kind}",
            fix="Create a new clip with create_video, stating what must stay the same in the prompt.",
        )
    return DerivePlan(prompt_sent, model, size, seconds_out, new_seconds, quote)


async def check_served(ctx: ServiceContext, model: str, known: bool) -> tuple[list[str], list[str]]:
    """The checks every create makes before it is priced against the budget, as (made, not made).

    A model the catalog does not know must be one the backend lists (GET /v1/models), when it
    lists any: otherwise the backend would refuse it after the call was approved. Catalog models
    pass without asking, since some backends list only aliases of what they serve.
    """
    checks = [
        "prompt rules (sora://guardrails)",
        "model, size and duration" + (" (catalog)" if known else " (basic checks: not in the catalog)"),
    ]
    if known:
        return checks, []  # the list could not refuse it: no need to ask the backend
    served = await ctx.backends.served_models()
    if served is None:
        return checks, ["the backend's model list (it could not be read now)"]
    if served and not known and model.casefold() not in {m.casefold() for m in served}:
        shown = ", ".join(served[:12]) + (", ..." if len(served) > 12 else "")
        raise InvalidInput(
            f"Model '{model[:80]}' is neither in the catalog nor served by this backend "
            f"(it lists: {shown}); nothing was sent",
            fix="Pass one of those models (see sora://models).",
        )
    checks.append("the backend's model list" if served else "the backend lists no models (nothing to match)")
    return checks, []


def dry_run_job(
    ctx: ServiceContext,
    model: str,
    size: str,
    seconds: str,
    prompt: str,
    quote: Quote,
    note: str | None,
    *,
    checks: list[str],
    unchecked: list[str],
) -> Job:
    reason = over_budget(ctx, quote)
    if reason is not None:
        checks = [*checks, f"budget: {reason} The real call will ask the user to approve"]
    else:
        checks = [
            *checks,
            "budget (fits)"
            if quote.usd is not None and has_budget(ctx)
            else "budget (no budget is set)"
            if not has_budget(ctx)
            else "budget (no price to check)",
        ]
    job = Job(
        id="dry-run",
        status="dry_run",
        progress=0,
        model=model,
        size=size,
        seconds=seconds,
        prompt=prompt,
        quote=quote,
        backend=None,
        checks=checks,
        unchecked=unchecked or None,
    )
    job.next_step = ((note + " ") if note else "") + (
        "Nothing was created or billed. Call again without dry_run to create it."
    )
    return job


def over_budget(ctx: ServiceContext, quote: Quote) -> str | None:
    """Why `quote` would need approval now (it crosses the remaining budget), or None."""
    return budget.over_budget(ctx.settings, ctx.ledger, quote, reserved=ctx.reservations.usd)


def has_budget(ctx: ServiceContext) -> bool:
    return ctx.settings.budget_usd is not None or ctx.settings.budget_daily_usd is not None


async def check_budget(ctx: ServiceContext, quote: Quote, approve: Approver | None) -> None:
    """Return when the quote fits the budget (counting what is reserved) or was approved once."""
    await budget.check_budget(ctx.settings, ctx.ledger, quote, approve, reserved=ctx.reservations.usd)
