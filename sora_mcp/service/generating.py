"""Generating: create and remix/extend/edit, each quoted, budgeted and sent exactly once.

`quoting` validates and prices the request; the budget is checked (approval asked once when it
is crossed) and the quote held against it while the request is in flight; `sending` sends it
once, reconciling an unknown outcome; the job is recorded in the ledger and the watcher follows it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from sora_mcp.errors import OutcomeUnknown, SoraError
from sora_mcp.models import Job, Quote, RemoteVideo
from sora_mcp.service import sending
from sora_mcp.service.budget import Approver
from sora_mcp.service.context import ServiceContext
from sora_mcp.service.jobs import job_from_remote
from sora_mcp.service.quoting import check_budget, check_served, dry_run_job, quote_create, quote_derive
from sora_mcp.service.recovery import watch
from sora_mcp.service.requests import CreateRequest, DeriveRequest

if TYPE_CHECKING:
    from sora_mcp.backends import Backend
    from sora_mcp.prompting import AugmentFields


async def create(
    ctx: ServiceContext,
    req: CreateRequest,
    *,
    dry_run: bool = False,
    approve: Approver | None = None,
    budget_approved: bool = False,
    idempotency_key: str | None = None,
) -> Job:
    """Create one job. `budget_approved`: the caller (a batch) already cleared the budget;
    `idempotency_key`: reuse one key across a caller's retries of the same request."""
    from sora_mcp.prompting import faces_available, prepare_reference

    name = ctx.backends.route(req.model, req.backend)
    await ctx.catalogs.refresh(name)  # a provider's own model list, when it has one
    prompt_sent, valid, quote = quote_create(ctx, req)
    size, seconds = valid.size, valid.seconds
    assert size is not None and seconds is not None  # a create's validation fills both
    checks, unchecked = await check_served(ctx, valid.model, valid.known)
    if dry_run:
        # Everything the real call checks before its send, and nothing more: the reference is
        # prepared exactly as for the upload (confined, verified, fitted) and then discarded.
        if req.input_reference:
            async with prepare_reference(
                req.input_reference,
                roots=ctx.roots(),
                target_size=size,
                tmp_dir=ctx.settings.tmp_dir,
            ):
                pass
            if req.input_reference.strip().lower().startswith("https://"):
                checks.append("input_reference (a public https URL)")
                unchecked.append(
                    "whether the backend can fetch that URL (sora-mcp never downloads it; "
                    "only the real call can tell)"
                )
            else:
                checks.append("input_reference (allowed folder, a real JPEG/PNG/WebP, fitted to the size)")
            if not faces_available():
                unchecked.append(
                    "faces in the reference image (the optional face check is not installed; "
                    "the real call skips it too)"
                )
        return dry_run_job(
            ctx,
            valid.model,
            size,
            seconds,
            prompt_sent,
            quote,
            valid.note,
            checks=checks,
            unchecked=unchecked,
        )
    if not budget_approved:
        await check_budget(ctx, quote, approve)
    ledger = ctx.ledger
    with ctx.reservations.hold(ctx.user.user_id, 0.0 if budget_approved else quote.usd):
        backend = await ctx.backends.get(name)
        reference = (
            prepare_reference(
                req.input_reference,
                roots=ctx.roots(),
                target_size=size,
                tmp_dir=ctx.settings.tmp_dir,
                limiter=ctx.reference_slots,
                max_image_bytes=ctx.settings.max_image_memory_mb * 1024 * 1024,
            )
            if req.input_reference
            else contextlib.nullcontext()
        )
        async with reference as ref:
            key = idempotency_key or f"sora-mcp-{uuid.uuid4()}"
            fingerprint = {
                "prompt": prompt_sent,
                "model": valid.model,
                "size": size,
                "seconds": seconds,
            }
            ledger.record_pending(
                key,
                _fingerprint(fingerprint, ref),
                {"kind": "create", **fingerprint, "backend": name, "owner": ctx.user.user_id},
            )

            extra = dict(req.extra or {})
            dialect = backend.known_dialect
            if ctx.settings.webhook_url and dialect is not None and dialect.callback_field:
                extra.setdefault(dialect.callback_field, ctx.settings.webhook_url)  # completion pushed

            async def send() -> RemoteVideo:
                return await backend.create(
                    prompt_sent,
                    valid.model,
                    size,
                    seconds,
                    input_reference=ref,
                    extra=extra or None,
                    idempotency_key=key,
                )

            match = sending.Match(prompt_sent, valid.model, size, seconds)
            remote = await _send_once(ctx, send, match, key, backend)
        _record_sent(
            ctx,
            remote,
            backend,
            name,
            key,
            req.prompt,
            prompt_sent,
            req.fields,
            quote,
            kind="create",
            source_id=None,
            reference_sha256=getattr(ref, "sha256", None),
        )
    watch(ctx, remote.id)
    job = job_from_remote(
        remote, ledger.get(remote.id), backend=backend.dialect, data_dir=ctx.settings.data_dir
    )
    if valid.note:
        job.next_step = f"{valid.note} {job.next_step}"
    return job


async def derive(
    ctx: ServiceContext,
    kind: str,
    req: DeriveRequest,
    *,
    dry_run: bool = False,
    approve: Approver | None = None,
) -> Job:
    """remix / extend / edit an existing job."""
    ledger = ctx.ledger
    plan = await quote_derive(ctx, kind, req)
    prompt_sent, quote = plan.prompt_sent, plan.quote
    if dry_run:
        checks = [
            "prompt rules (sora://guardrails)",
            f"the source video {req.video_id} and its settings",
            f"the backend supports {kind}",
        ]
        return dry_run_job(
            ctx,
            plan.model or "unknown",
            plan.size or "",
            plan.seconds_out or "",
            prompt_sent,
            quote,
            None,
            checks=checks,
            unchecked=[],
        )
    await check_budget(ctx, quote, approve)
    name = ctx.job_backend(req.video_id)
    with ctx.reservations.hold(ctx.user.user_id, quote.usd):
        backend = await ctx.backends.get(name)
        key = f"sora-mcp-{uuid.uuid4()}"
        ledger.record_pending(
            key, _fingerprint({"kind": kind, "src": req.video_id, "prompt": prompt_sent}, None), {}
        )

        async def send() -> RemoteVideo:
            if kind == "remix":
                return await backend.remix(req.video_id, prompt_sent, extra=req.extra, idempotency_key=key)
            if kind == "extend":
                assert plan.new_seconds is not None  # quote_derive sets it for an extend
                return await backend.extend(
                    req.video_id, prompt_sent, plan.new_seconds, extra=req.extra, idempotency_key=key
                )
            return await backend.edit(req.video_id, prompt_sent, extra=req.extra, idempotency_key=key)

        match = sending.Match(prompt_sent, source_id=req.video_id if kind == "remix" else None)
        remote = await _send_once(ctx, send, match, key, backend)
        _record_sent(
            ctx,
            remote,
            backend,
            name,
            key,
            req.prompt,
            prompt_sent,
            req.fields,
            quote,
            kind=kind,
            source_id=req.video_id,
            reference_sha256=None,
        )
    watch(ctx, remote.id)
    return job_from_remote(
        remote, ledger.get(remote.id), backend=backend.dialect, data_dir=ctx.settings.data_dir
    )


def _record_sent(
    ctx: ServiceContext,
    remote: RemoteVideo,
    backend: Backend,
    name: str | None,
    key: str,
    prompt_given: str,
    prompt_sent: str,
    fields: AugmentFields,
    quote: Quote,
    *,
    kind: str,
    source_id: str | None,
    reference_sha256: str | None,
) -> None:
    """Record a job the backend accepted (create or derive) and close its pending entry: one place
    for what every sent job keeps (its backend to follow it to, its owner, its quoted cost)."""
    ctx.ledger.resolve_pending(key, remote.id)
    ctx.ledger.record_job(
        remote,
        backend=backend.dialect,
        prompt_given=prompt_given,
        prompt_sent=prompt_sent,
        augmentation=fields.model_dump(exclude_none=True),
        input_reference_sha256=reference_sha256,
        kind=kind,
        source_id=source_id,
        cost_usd=quote.usd,
        cost_note=quote.note,
        idempotency_key=key,
        base_url_host=backend.base_url if name else None,  # which backend to follow it to
        owner=ctx.user.user_id,
    )


async def _send_once(
    ctx: ServiceContext,
    send: Callable[[], Awaitable[RemoteVideo]],
    match: sending.Match,
    key: str,
    backend: Backend | None = None,
) -> RemoteVideo:
    """Send a paid request once, reconciling an unknown outcome (see `service.sending`).
    A definite refusal forgets the pending record; an unknown outcome keeps it."""
    try:
        return await sending.send_once(ctx, send, match, backend)
    except OutcomeUnknown:
        raise
    except SoraError:
        ctx.ledger.drop_pending(key)
        raise


def _fingerprint(fields: dict[str, Any], ref: object) -> str:
    data = dict(fields, ref=getattr(ref, "sha256", None))
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
