"""Batch creation: many create requests from a list or a JSONL file, one result per line.

The lines are read and parsed by `batch_input` (one `BatchSpec` each; per-line values override
the call's defaults).

The whole batch is validated and quoted before anything is sent; if its total would cross the
remaining budget, approval is asked once for the whole batch. Lines then run at most
`concurrency` at a time. A line is retried (same Idempotency-Key, at most `max_attempts` sends)
only when nothing can have been made: a 429 (waiting `Retry-After`, else 2^n s, capped at
60 s), a backend that could not be reached, or a server error after which the backend's job list
showed no job for it (see `service.sending`). A line whose outcome stays unknown is reported, never
resent. `fail_fast` stops launching lines after the first failure (and, if any line is invalid,
sends nothing); lines not launched are reported as skipped.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import anyio
from pydantic import BaseModel, Field, ValidationError

from sora_mcp.errors import (
    BackendError,
    BackendUnavailable,
    InvalidInput,
    OutcomeUnknown,
    RateLimited,
    SoraError,
)
from sora_mcp.models import Job, Quote
from sora_mcp.service.batch_input import parse_jsonl, read_jsonl, request_for, to_spec
from sora_mcp.service.budget import Approver
from sora_mcp.service.context import ServiceContext
from sora_mcp.service.generating import create
from sora_mcp.service.jobs import SUGGESTED_WAIT_S
from sora_mcp.service.quoting import check_budget, quote_create
from sora_mcp.service.requests import CreateRequest
from sora_mcp.service.waiting import ProgressFn

log = logging.getLogger("sora_mcp.service")
MAX_LINES = 100
MAX_WAIT_S = 60.0


class BatchLineResult(BaseModel):
    """The outcome of one line: the job it made, or why it made none."""

    line: int = Field(description="Line number in the JSONL file, or position (from 1) in the jobs list.")
    ok: bool
    job: Job | None = None
    error: str | None = None
    attempts: int = Field(default=0, description="Requests sent for this line (retries of 429s included).")


class BatchResult(BaseModel):
    results: list[BatchLineResult]
    created: int = Field(description="Jobs created (dry run: 0).")
    failed: int = Field(description="Lines that made no job: invalid, refused, skipped or failed.")
    total_quote_usd: float | None = Field(
        description="Estimated cost of the valid lines; null when a line's price is unknown."
    )
    dry_run: bool
    next_step: str


class BatchLine:
    def __init__(self, line: int, req: CreateRequest | None = None, error: str | None = None) -> None:
        self.line, self.req, self.error = line, req, error
        self.quote: Quote | None = None
        self.key = f"sora-mcp-batch-{uuid.uuid4()}"


# ---- planning -------------------------------------------------------------------------------


async def plan_batch(
    ctx: ServiceContext, specs: list[Any] | None, jsonl_path: str | None, defaults: dict[str, Any] | None
) -> list[BatchLine]:
    """Every line validated, augmented and quoted, without any backend call."""
    if (specs is None) == (jsonl_path is None):
        raise InvalidInput(
            "create_batch needs exactly one of `jobs` (a list) or `jsonl_path` (a file)",
            fix="Pass the jobs inline as a list, or the path of a JSONL file, not both.",
        )
    if jsonl_path is not None:
        text = await anyio.to_thread.run_sync(read_jsonl, jsonl_path, ctx.settings.roots())
        parsed = parse_jsonl(text)
    else:
        parsed = [(i, to_spec(s, f"job {i}")) for i, s in enumerate(specs or [], start=1)]
    if not parsed:
        raise InvalidInput(
            "The batch has no jobs", fix="Give at least one job (one per line in a JSONL file)."
        )
    if len(parsed) > MAX_LINES:
        raise InvalidInput(
            f"The batch has {len(parsed)} jobs; the limit is {MAX_LINES}",
            fix=f"Split it into batches of at most {MAX_LINES}.",
        )
    base = to_spec({"prompt": "-", **(defaults or {})}, "defaults")
    if isinstance(base, str):
        raise InvalidInput(
            f"Bad batch {base}", fix="Defaults take the same keys as a job (model, size, ...)."
        )
    base.prompt = None
    lines = []
    for number, spec in parsed:
        if isinstance(spec, str):
            lines.append(BatchLine(number, error=spec))
            continue
        req = request_for(spec, base)
        ln = BatchLine(number, req=req)
        try:
            _, _, ln.quote = quote_create(ctx, req)
        except (SoraError, ValidationError) as exc:
            ln.error = f"line {number}: {exc}"
        lines.append(ln)
    return lines


def batch_quote(lines: list[BatchLine]) -> Quote:
    valid = [ln.quote for ln in lines if ln.error is None and ln.quote is not None]
    unknown = [q for q in valid if q.usd is None]
    known = round(sum(q.usd or 0.0 for q in valid), 4)
    seconds = sum(int(q.seconds) for q in valid if str(q.seconds).isdigit())
    note = f"{len(valid)} job(s), {seconds} s of video"
    if unknown:
        note += (
            f"; {len(unknown)} job(s) have no published price, so the total is not known (${known:.2f} known)"
        )
    return Quote(
        model="batch", size="", seconds=str(seconds), usd=known if valid and not unknown else None, note=note
    )


# ---- running --------------------------------------------------------------------------------


async def run_batch(
    ctx: ServiceContext,
    specs: list[Any] | None,
    jsonl_path: str | None,
    *,
    defaults: dict[str, Any] | None,
    concurrency: int,
    max_attempts: int,
    fail_fast: bool,
    dry_run: bool,
    approve: Approver | None,
    on_progress: ProgressFn | None = None,
) -> BatchResult:
    """Create many jobs: one result per line, never two jobs for one line."""
    for name in ctx.backends.names():  # each backend's own model list, for the lines' checks
        try:
            await ctx.catalogs.refresh(name)
        except SoraError as exc:
            log.warning("could not read the models of backend %s: %s", name or "default", exc.message)
    _check_range("concurrency", concurrency, 1, 10)
    _check_range("max_attempts", max_attempts, 1, 10)
    lines = await plan_batch(ctx, specs, jsonl_path, defaults)
    total = batch_quote(lines)
    results: dict[int, BatchLineResult] = {
        ln.line: BatchLineResult(line=ln.line, ok=False, error=ln.error) for ln in lines if ln.error
    }
    todo = [ln for ln in lines if ln.error is None]
    if dry_run:
        for ln in todo:
            assert ln.req is not None  # a line without an error has its request
            job = await create(ctx, ln.req, dry_run=True)
            results[ln.line] = BatchLineResult(line=ln.line, ok=True, job=job)
        return _result(results, total, dry_run=True)
    if fail_fast and results:
        for ln in todo:
            results[ln.line] = _skipped(
                ln.line, "another line is invalid and fail_fast is on; nothing was sent"
            )
        return _result(results, total, dry_run=False)
    if todo:
        await check_budget(ctx, total, approve)
        await _run_lines(ctx, todo, results, concurrency, max_attempts, fail_fast, on_progress)
    return _result(results, total, dry_run=False)


async def _run_lines(
    ctx: ServiceContext,
    todo: list[BatchLine],
    results: dict[int, BatchLineResult],
    concurrency: int,
    max_attempts: int,
    fail_fast: bool,
    on_progress: ProgressFn | None,
) -> None:
    slots = anyio.Semaphore(concurrency)
    stop = False
    # The batch's quote stays reserved against the budget until each line is recorded or fails.
    held = {ln.line: (ln.quote.usd or 0.0) if ln.quote else 0.0 for ln in todo}
    ctx.reservations.add(sum(held.values()))

    def release(ln: BatchLine) -> None:
        ctx.reservations.release(held.pop(ln.line, 0.0))

    async def work(ln: BatchLine) -> None:
        nonlocal stop
        try:
            res = await _run_line(ctx, ln, max_attempts)
            results[ln.line] = res
            stop = stop or (fail_fast and not res.ok)
            if on_progress is not None:
                said = f"created {res.job.id}" if res.ok and res.job else f"failed: {(res.error or '')[:120]}"
                done = sum(1 for t in todo if t.line in results)
                await on_progress(float(done), float(len(todo)), f"line {ln.line}: {said}")
        finally:
            release(ln)
            slots.release()

    try:
        async with anyio.create_task_group() as tg:
            for ln in todo:
                await slots.acquire()
                if stop:
                    slots.release()
                    release(ln)
                    results[ln.line] = _skipped(ln.line, "an earlier line failed and fail_fast is on")
                    continue
                tg.start_soon(work, ln)
    finally:
        for ln in todo:
            release(ln)  # lines never launched (the call was cancelled)


async def _run_line(ctx: ServiceContext, ln: BatchLine, max_attempts: int) -> BatchLineResult:
    assert ln.req is not None
    error: SoraError | None = None
    for attempt in range(1, max_attempts + 1):
        try:
            job = await create(ctx, ln.req, budget_approved=True, idempotency_key=ln.key)
            return BatchLineResult(line=ln.line, ok=True, job=job, attempts=attempt)
        except OutcomeUnknown as exc:  # may exist: never resent (see service.sending)
            return _failed(ln.line, exc, attempt)
        except RateLimited as exc:
            error, wait = exc, exc.retry_after if exc.retry_after is not None else 2.0 ** (attempt - 1)
        except BackendUnavailable as exc:
            error, wait = exc, 2.0 ** (attempt - 1)
        except BackendError as exc:
            if type(exc) is not BackendError:  # auth and the like: retrying cannot help
                return _failed(ln.line, exc, attempt)
            error, wait = exc, 2.0 ** (attempt - 1)  # answered, and reconciled: nothing was made
        except SoraError as exc:
            return _failed(ln.line, exc, attempt)
        if attempt < max_attempts:
            await anyio.sleep(min(wait, MAX_WAIT_S))
    assert error is not None
    return _failed(ln.line, error, max_attempts, gave_up=True)


def _failed(line: int, exc: SoraError, attempts: int, *, gave_up: bool = False) -> BatchLineResult:
    tries = (
        f" (gave up after {attempts} attempts; raise max_attempts or try this line later)" if gave_up else ""
    )
    return BatchLineResult(line=line, ok=False, error=f"line {line}: {exc}{tries}", attempts=attempts)


def _skipped(line: int, why: str) -> BatchLineResult:
    return BatchLineResult(line=line, ok=False, error=f"line {line}: skipped: {why}")


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise InvalidInput(f"{name}={value} is out of range", fix=f"Use a whole number from {low} to {high}.")


def _result(results: dict[int, BatchLineResult], total: Quote, *, dry_run: bool) -> BatchResult:
    ordered = [results[k] for k in sorted(results)]
    ok = [r for r in ordered if r.ok]
    failed = len(ordered) - len(ok)
    price = f"${total.usd:.2f}" if total.usd is not None else "unknown"
    if dry_run:
        step = (
            f"Nothing was created or billed. The {len(ok)} valid job(s) are estimated at {price} "
            f"({total.note}). Call again without dry_run to create them."
        )
    else:
        ids = [r.job.id for r in ok if r.job]
        more = " (at most 50 ids per call: pass the rest in further calls)" if len(ids) > 50 else ""
        step = (
            f"Follow the {len(ids)} job(s) with get_status(video_ids={json.dumps(ids[:50])}, "
            f"wait_seconds={SUGGESTED_WAIT_S:g}); call get_status again with the same wait until all_done"
            f"{more}, then download_asset for each completed one."
            if ids
            else "No job was created."
        )
    if failed:
        step += f" {failed} line(s) made no job: read each error, fix those lines and send only them again."
    return BatchResult(
        results=ordered,
        created=0 if dry_run else len(ok),
        failed=failed,
        total_quote_usd=total.usd,
        dry_run=dry_run,
        next_step=step,
    )
