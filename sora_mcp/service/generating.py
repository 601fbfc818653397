"""Generating: create, remix/extend/edit, batch — validated, priced, budgeted and sent exactly once.

A mixin of `VideoService` (core.py), which supplies settings, the ledger, the backend and the
watcher; kept apart so each module stays one responsibility.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from sora_mcp import principal
from sora_mcp.errors import InvalidInput, OutcomeUnknown, SoraError
from sora_mcp.models import Job, Quote, RemoteVideo
from sora_mcp.prompting import augment, check_prompt
from sora_mcp.service import sending, waiting
from sora_mcp.service.budget import Approver
from sora_mcp.service.jobs import job_from_remote
from sora_mcp.service.requests import CreateRequest, DeriveRequest
from sora_mcp.service.requests import check_id as _check_id

if TYPE_CHECKING:
    from sora_mcp.service.batch import BatchResult


log = logging.getLogger("sora_mcp.service")


class DerivePlan(NamedTuple):
    """A priced remix/extend/edit: what will be sent and what it should cost."""

    prompt_sent: str
    model: str | None
    size: str | None
    seconds_out: str | None  # the new job's length (the stitched total for extend)
    new_seconds: str | None  # extend only: the new segment's length
    quote: Quote


class Generating:
    """The paid operations of VideoService."""

    def check_visible(self, video_id: str) -> None:  # VideoService's (core.py): users see their own jobs
        raise NotImplementedError

    def roots(self) -> list[Path]:  # VideoService's (core.py): the folders the current user may name
        raise NotImplementedError

    def _prepare_prompt(self, prompt: str, req: CreateRequest | DeriveRequest) -> str:
        sent = augment(prompt, req.fields, enabled=req.augment)
        check_prompt(sent, self.settings.denylist)
        return sent

    def quote_create(self, req: CreateRequest) -> tuple[str, Any, Quote]:
        """Validate, augment and price a create without calling the backend."""
        prompt_sent = self._prepare_prompt(req.prompt, req)
        name = self.route(req.model, req.backend)
        catalog = self.catalog_for(name)
        valid = catalog.validate(
            req.model, req.size, req.seconds, strict=self.settings.strict_models, prompt=prompt_sent
        )
        quote = catalog.quote(
            valid.model, valid.size, valid.seconds, engine=self.uses_engine and name is None
        )
        if (
            req.input_reference
            and catalog.provider
            and catalog.supports(valid.model, "input_reference") is False
        ):
            able = [m.id for m in catalog.models() if m.supports.input_reference]
            raise InvalidInput(
                f"{valid.model} takes no first-frame image on {catalog.provider}",
                fix="Leave input_reference out" + (f", or use one of: {', '.join(able)}." if able else "."),
            )
        return prompt_sent, valid, quote

    async def create(
        self,
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

        name = self.route(req.model, req.backend)
        await self.refresh_catalog(name)  # a provider's own model list, when it has one
        prompt_sent, valid, quote = self.quote_create(req)
        checks, unchecked = await self._check_served(valid.model, valid.known)
        if dry_run:
            # Everything the real call checks before its send, and nothing more: the reference is
            # prepared exactly as for the upload (confined, verified, fitted) and then discarded.
            if req.input_reference:
                async with prepare_reference(
                    req.input_reference,
                    roots=self.roots(),
                    target_size=valid.size,
                    tmp_dir=self.settings.tmp_dir,
                ):
                    pass
                if req.input_reference.strip().lower().startswith("https://"):
                    checks.append("input_reference (a public https URL)")
                    unchecked.append(
                        "whether the backend can fetch that URL (sora-mcp never downloads it; "
                        "only the real call can tell)"
                    )
                else:
                    checks.append(
                        "input_reference (allowed folder, a real JPEG/PNG/WebP, fitted to the size)"
                    )
                if not faces_available():
                    unchecked.append(
                        "faces in the reference image (the optional face check is not installed; "
                        "the real call skips it too)"
                    )
            return self._dry_run_job(
                valid.model,
                valid.size,
                valid.seconds,
                prompt_sent,
                quote,
                valid.note,
                checks=checks,
                unchecked=unchecked,
            )
        if not budget_approved:
            await self._check_budget(quote, approve)
        ledger = self._ledger()
        with self._reserve(0.0 if budget_approved else quote.usd):
            backend = await self.backend(name)
            reference = (
                prepare_reference(
                    req.input_reference,
                    roots=self.roots(),
                    target_size=valid.size,
                    tmp_dir=self.settings.tmp_dir,
                    limiter=self.reference_slots,
                    max_image_bytes=self.settings.max_image_memory_mb * 1024 * 1024,
                )
                if req.input_reference
                else contextlib.nullcontext()
            )
            async with reference as ref:
                key = idempotency_key or f"sora-mcp-{uuid.uuid4()}"
                fingerprint = {
                    "prompt": prompt_sent,
                    "model": valid.model,
                    "size": valid.size,
                    "seconds": valid.seconds,
                }
                ledger.record_pending(
                    key,
                    _fingerprint(fingerprint, ref),
                    {"kind": "create", **fingerprint, "backend": name, "owner": principal.current().user_id},
                )

                extra = dict(req.extra or {})
                dialect = backend.known_dialect
                if self.settings.webhook_url and dialect is not None and dialect.callback_field:
                    extra.setdefault(dialect.callback_field, self.settings.webhook_url)  # completion pushed

                async def send() -> RemoteVideo:
                    return await backend.create(
                        prompt_sent,
                        valid.model,
                        valid.size,
                        valid.seconds,
                        input_reference=ref,
                        extra=extra or None,
                        idempotency_key=key,
                    )

                match = sending.Match(prompt_sent, valid.model, valid.size, valid.seconds)
                remote = await self._send_once(send, match, key, backend)
            ledger.resolve_pending(key, remote.id)
            ledger.record_job(
                remote,
                backend=backend.dialect,
                prompt_given=req.prompt,
                prompt_sent=prompt_sent,
                augmentation=req.fields.model_dump(exclude_none=True),
                input_reference_sha256=getattr(ref, "sha256", None),
                kind="create",
                source_id=None,
                cost_usd=quote.usd,
                cost_note=quote.note,
                idempotency_key=key,
                base_url_host=backend.base_url if name else None,  # which backend to follow it to
                owner=principal.current().user_id,
            )
        self._watch(remote.id)
        job = job_from_remote(
            remote, ledger.get(remote.id), backend=backend.dialect, data_dir=self.settings.data_dir
        )
        if valid.note:
            job.next_step = f"{valid.note} {job.next_step}"
        return job

    async def quote_derive(self, kind: str, req: DeriveRequest, *, offline: bool = False) -> DerivePlan:
        """Validate, augment and price a remix/extend/edit. The source's model, size and length come
        from the ledger, else from the backend (a read) unless `offline`."""
        _check_id(req.video_id)  # a huge or control-character id must not reach the URL builder
        self.check_visible(req.video_id)  # only one's own jobs can be a source
        source = self._ledger().get(req.video_id)
        name = self.job_backend(req.video_id)  # a derived job is made where its source lives
        catalog = self.catalog_for(name)
        engine = self.uses_engine and name is None
        prompt_sent = self._prepare_prompt(req.prompt, req)
        model, size, seconds = (getattr(source, a, None) for a in ("model", "size", "seconds"))
        if not offline:
            await (await self.backend(name)).require(kind)  # a backend lacking the feature is named first
        if source is None and not offline:
            remote_src = await (await self.backend(name)).retrieve(req.video_id)
            model, size, seconds = remote_src.model, remote_src.size, remote_src.seconds
        new_seconds = None
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
                strict=self.settings.strict_models,
            )
            quote = catalog.quote(valid.model, valid.size, valid.seconds, engine=engine)
            new_seconds, seconds_out = valid.seconds, str(int(seconds or 0) + int(valid.seconds))
            # The job's quote names the job's length (the stitched total), as the ledger's record of
            # the real job will; the price is for the new segment only, and the note says so.
            quote = quote.model_copy(
                update={
                    "seconds": seconds_out,
                    "note": (
                        f"{quote.note}; billed for the {new_seconds} s new segment, {seconds_out} s in all"
                    ),
                }
            )
        else:
            quote = catalog.quote(model or "unknown", size or "", seconds or "0", engine=engine)
            seconds_out = seconds
        if model and catalog.supports(model, kind) is False:
            from sora_mcp.errors import Unsupported

            raise Unsupported(
                f"The model {model} does not support {kind}",
                fix="Create a new clip with create_video, stating what must stay the same in the prompt.",
            )
        return DerivePlan(prompt_sent, model, size, seconds_out, new_seconds, quote)

    async def derive(
        self, kind: str, req: DeriveRequest, *, dry_run: bool = False, approve: Approver | None = None
    ) -> Job:
        """remix / extend / edit an existing job."""
        ledger = self._ledger()
        plan = await self.quote_derive(kind, req)
        prompt_sent, quote = plan.prompt_sent, plan.quote
        if dry_run:
            checks = [
                "prompt rules (sora://guardrails)",
                f"the source video {req.video_id} and its settings",
                f"the backend supports {kind}",
            ]
            return self._dry_run_job(
                plan.model or "unknown",
                plan.size or "",
                plan.seconds_out or "",
                prompt_sent,
                quote,
                None,
                checks=checks,
                unchecked=[],
            )
        await self._check_budget(quote, approve)
        name = self.job_backend(req.video_id)
        with self._reserve(quote.usd):
            backend = await self.backend(name)
            key = f"sora-mcp-{uuid.uuid4()}"
            ledger.record_pending(
                key, _fingerprint({"kind": kind, "src": req.video_id, "prompt": prompt_sent}, None), {}
            )

            async def send() -> RemoteVideo:
                if kind == "remix":
                    return await backend.remix(
                        req.video_id, prompt_sent, extra=req.extra, idempotency_key=key
                    )
                if kind == "extend":
                    return await backend.extend(
                        req.video_id, prompt_sent, plan.new_seconds, extra=req.extra, idempotency_key=key
                    )
                return await backend.edit(req.video_id, prompt_sent, extra=req.extra, idempotency_key=key)

            match = sending.Match(prompt_sent, source_id=req.video_id if kind == "remix" else None)
            remote = await self._send_once(send, match, key, backend)
            ledger.resolve_pending(key, remote.id)
            ledger.record_job(
                remote,
                backend=backend.dialect,
                prompt_given=req.prompt,
                prompt_sent=prompt_sent,
                augmentation=req.fields.model_dump(exclude_none=True),
                input_reference_sha256=None,
                kind=kind,
                source_id=req.video_id,
                cost_usd=quote.usd,
                cost_note=quote.note,
                idempotency_key=key,
                base_url_host=backend.base_url if name else None,
                owner=principal.current().user_id,
            )
        self._watch(remote.id)
        return job_from_remote(
            remote, ledger.get(remote.id), backend=backend.dialect, data_dir=self.settings.data_dir
        )

    async def create_batch(
        self,
        specs: list[dict[str, Any]] | None = None,
        jsonl_path: str | None = None,
        *,
        defaults: dict[str, Any] | None = None,
        concurrency: int = 3,
        max_attempts: int = 3,
        fail_fast: bool = False,
        dry_run: bool = False,
        approve: Approver | None = None,
        on_progress: waiting.ProgressFn | None = None,
    ) -> BatchResult:
        """Create many jobs (see `service.batch`): one result per line, never two jobs for one line."""
        from sora_mcp.service.batch import run_batch

        for name in self.backend_names():  # each backend's own model list, for the lines' checks
            try:
                await self.refresh_catalog(name)
            except SoraError as exc:
                log.warning("could not read the models of backend %s: %s", name or "default", exc.message)
        return await run_batch(
            self,
            specs,
            jsonl_path,
            defaults=defaults,
            concurrency=concurrency,
            max_attempts=max_attempts,
            fail_fast=fail_fast,
            dry_run=dry_run,
            approve=approve,
            on_progress=on_progress,
        )

    async def _send_once(
        self, send: Callable[[], Awaitable[RemoteVideo]], match: sending.Match, key: str, backend: Any = None
    ) -> RemoteVideo:
        """Send a paid request once, reconciling an unknown outcome (see `service.sending`).
        A definite refusal forgets the pending record; an unknown outcome keeps it."""
        try:
            return await sending.send_once(self, send, match, backend)
        except OutcomeUnknown:
            raise
        except SoraError:
            self._ledger().drop_pending(key)
            raise

    async def _check_budget(self, quote: Quote, approve: Approver | None) -> None:
        from sora_mcp.service.budget import check_budget

        await check_budget(self.settings, self._ledger(), quote, approve, reserved=self._reserved_usd)

    def over_budget(self, quote: Quote) -> str | None:
        """Why `quote` would need approval now (it crosses the remaining budget), or None."""
        from sora_mcp.service.budget import over_budget

        return over_budget(self.settings, self._ledger(), quote, reserved=self._reserved_usd)

    def _has_budget(self) -> bool:
        return self.settings.budget_usd is not None or self.settings.budget_daily_usd is not None

    @contextlib.contextmanager
    def _reserve(self, usd: float | None) -> Iterator[None]:
        """Count a paid request in flight against the budget until it is recorded (or fails)."""
        self._reserved_usd += usd or 0.0
        try:
            yield
        finally:
            self._reserved_usd -= usd or 0.0

    async def _check_served(self, model: str, known: bool) -> tuple[list[str], list[str]]:
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
        served = await self.served_models()
        if served is None:
            return checks, ["the backend's model list (it could not be read now)"]
        if served and not known and model.casefold() not in {m.casefold() for m in served}:
            shown = ", ".join(served[:12]) + (", ..." if len(served) > 12 else "")
            raise InvalidInput(
                f"Model '{model[:80]}' is neither in the catalog nor served by this backend "
                f"(it lists: {shown}); nothing was sent",
                fix="Pass one of those models (see sora://models).",
            )
        checks.append(
            "the backend's model list" if served else "the backend lists no models (nothing to match)"
        )
        return checks, []

    def _dry_run_job(
        self,
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
        reason = self.over_budget(quote)
        if reason is not None:
            checks = [*checks, f"budget: {reason} The real call will ask the user to approve"]
        else:
            checks = [
                *checks,
                "budget (fits)"
                if quote.usd is not None and self._has_budget()
                else "budget (no budget is set)"
                if not self._has_budget()
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


def _fingerprint(fields: dict[str, Any], ref: Any) -> str:
    import hashlib
    import json

    data = dict(fields, ref=getattr(ref, "sha256", None))
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
