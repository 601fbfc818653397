"""VideoService: the one set of operations the MCP tools and the CLI both call.

It owns the long-lived parts: the backend client (started lazily, so a client spawning the
server gets `tools/list` fast), the embedded engine when no base URL is configured, the
ledger, the catalog and a background watcher that archives jobs as they complete.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

import anyio

from sora_mcp.config import Settings
from sora_mcp.errors import InvalidInput, NotFound, NotReady, OutcomeUnknown, SoraError
from sora_mcp.library import Ledger, sweep_temp
from sora_mcp.models import TERMINAL_STATUSES, Asset, DeleteResult, Job, JobPage, Quote, RemoteVideo
from sora_mcp.prompting import Catalog, augment, check_prompt
from sora_mcp.service import archive, sending, waiting
from sora_mcp.service.budget import Approver
from sora_mcp.service.jobs import job_from_record, job_from_remote, next_step
from sora_mcp.service.requests import CreateRequest, DeriveRequest

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


class VideoService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ledger: Ledger | None = None
        self._catalog: Catalog | None = None
        self._backend: Any = None
        self._engine: Any = None
        self._backend_lock = anyio.Lock()
        self._tg: anyio.abc.TaskGroup | None = None
        self._watching: set[str] = set()
        self._archive_locks: dict[str, anyio.Lock] = {}
        self._claimed: set[str] = set()  # backend jobs a reconciliation already took
        self._reserved_usd = 0.0  # quotes of paid requests in flight, counted against the budget
        self.poller = waiting.Poller(self)

    # ---- lifecycle -------------------------------------------------------------------------
    async def __aenter__(self) -> VideoService:
        data_dir = self.settings.data_dir
        for d in (data_dir, self.settings.tmp_dir, self.settings.library_dir):
            d.mkdir(parents=True, exist_ok=True)
        sweep_temp(self.settings.tmp_dir)
        self.ledger = Ledger(self.settings.ledger_path)
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        if self.settings.watch:
            self._tg.start_soon(self._resume_watching)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._tg is not None:
            self._tg.cancel_scope.cancel()
            await self._tg.__aexit__(None, None, None)
            self._tg = None
        if self._backend is not None:
            await self._backend.aclose()
            self._backend = None
        if self._engine is not None:
            await anyio.to_thread.run_sync(self._engine.stop)
            self._engine = None
        if self.ledger is not None:
            self.ledger.close()
            self.ledger = None

    @property
    def started(self) -> bool:
        return self.ledger is not None

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = Catalog.load(self.settings.catalog)
        return self._catalog

    async def backend(self) -> Any:
        """The backend client, created on first use (starting the embedded engine if needed)."""
        if self._backend is not None:
            return self._backend
        async with self._backend_lock:
            if self._backend is None:
                from sora_mcp.backends import Backend

                base_url = self.settings.base_url
                if not base_url:
                    self._engine = await anyio.to_thread.run_sync(self._start_engine)
                    base_url = self._engine.base_url
                self._backend = Backend.from_settings(self.settings, base_url=base_url)
        return self._backend

    def _start_engine(self) -> Any:
        from sora_mcp.engine import EngineConfig, EngineServer

        overrides: dict[str, Any] = {"data_dir": self.settings.engine_dir}
        if self.settings.engine_poll_after_ms is not None:
            overrides["poll_after_ms"] = self.settings.engine_poll_after_ms
        if self.settings.engine_render_slowdown != 1.0:
            overrides["render_slowdown"] = self.settings.engine_render_slowdown
        engine = EngineServer(EngineConfig.from_env(**overrides))
        engine.start()
        return engine

    @property
    def uses_engine(self) -> bool:
        return self.settings.uses_embedded_engine

    def _ledger(self) -> Ledger:
        if self.ledger is None:
            raise RuntimeError("VideoService used outside `async with`")
        return self.ledger

    # ---- generating ------------------------------------------------------------------------
    def _prepare_prompt(self, prompt: str, req: CreateRequest | DeriveRequest) -> str:
        sent = augment(prompt, req.fields, enabled=req.augment)
        check_prompt(sent, self.settings.denylist)
        return sent

    def quote_create(self, req: CreateRequest) -> tuple[str, Any, Quote]:
        """Validate, augment and price a create without calling the backend."""
        prompt_sent = self._prepare_prompt(req.prompt, req)
        valid = self.catalog.validate(req.model, req.size, req.seconds, strict=self.settings.strict_models,
                                      prompt=prompt_sent)
        quote = self.catalog.quote(valid.model, valid.size, valid.seconds, engine=self.uses_engine)
        return prompt_sent, valid, quote

    async def create(
        self, req: CreateRequest, *, dry_run: bool = False, approve: Approver | None = None,
        budget_approved: bool = False, idempotency_key: str | None = None,
    ) -> Job:
        """Create one job. `budget_approved`: the caller (a batch) already cleared the budget;
        `idempotency_key`: reuse one key across a caller's retries of the same request."""
        from sora_mcp.prompting import prepare_reference

        prompt_sent, valid, quote = self.quote_create(req)
        if dry_run:
            return self._dry_run_job(valid.model, valid.size, valid.seconds, prompt_sent, quote, valid.note)
        if not budget_approved:
            await self._check_budget(quote, approve)
        ledger = self._ledger()
        with self._reserve(0.0 if budget_approved else quote.usd):
            backend = await self.backend()
            async with _maybe_reference(prepare_reference, req.input_reference, self.settings, valid.size) as ref:
                key = idempotency_key or f"sora-mcp-{uuid.uuid4()}"
                fingerprint = {"prompt": prompt_sent, "model": valid.model, "size": valid.size,
                               "seconds": valid.seconds}
                ledger.record_pending(key, _fingerprint(fingerprint, ref), {"kind": "create", **fingerprint})

                async def send() -> RemoteVideo:
                    return await backend.create(
                        prompt_sent, valid.model, valid.size, valid.seconds,
                        input_reference=ref, extra=req.extra, idempotency_key=key,
                    )

                match = sending.Match(prompt_sent, valid.model, valid.size, valid.seconds)
                remote = await self._send_once(send, match, key)
            ledger.resolve_pending(key, remote.id)
            ledger.record_job(
                remote, backend=backend.dialect, prompt_given=req.prompt, prompt_sent=prompt_sent,
                augmentation=req.fields.model_dump(exclude_none=True),
                input_reference_sha256=getattr(ref, "sha256", None), kind="create", source_id=None,
                cost_usd=quote.usd, cost_note=quote.note, idempotency_key=key,
            )
        self._watch(remote.id)
        job = job_from_remote(remote, ledger.get(remote.id), backend=backend.dialect, data_dir=self.settings.data_dir)
        if valid.note:
            job.next_step = f"{valid.note} {job.next_step}"
        return job

    async def quote_derive(self, kind: str, req: DeriveRequest, *, offline: bool = False) -> DerivePlan:
        """Validate, augment and price a remix/extend/edit. The source's model, size and length come
        from the ledger, else from the backend (a read) unless `offline`."""
        _check_id(req.video_id)  # a huge or control-character id must not reach the URL builder
        source = self._ledger().get(req.video_id)
        prompt_sent = self._prepare_prompt(req.prompt, req)
        model, size, seconds = (getattr(source, a, None) for a in ("model", "size", "seconds"))
        if not offline:
            await (await self.backend()).require(kind)  # a backend lacking the feature is named first
        if source is None and not offline:
            remote_src = await (await self.backend()).retrieve(req.video_id)
            model, size, seconds = remote_src.model, remote_src.size, remote_src.seconds
        new_seconds = None
        if kind == "extend":
            if req.seconds is None:
                raise InvalidInput("extend needs `seconds`: how long the new segment is", fix="Pass seconds=4 (or 8, 12).")
            valid = self.catalog.validate(model or "sora-2", size or "1280x720", req.seconds, kind="extend",
                                          strict=self.settings.strict_models)
            quote = self.catalog.quote(valid.model, valid.size, valid.seconds, engine=self.uses_engine)
            new_seconds, seconds_out = valid.seconds, str(int(seconds or 0) + int(valid.seconds))
        else:
            quote = self.catalog.quote(model or "unknown", size or "", seconds or "0", engine=self.uses_engine)
            seconds_out = seconds
        if model and self.catalog.supports(model, kind) is False:
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
            return self._dry_run_job(plan.model or "unknown", plan.size or "", plan.seconds_out or "", prompt_sent,
                                     quote, None)
        await self._check_budget(quote, approve)
        with self._reserve(quote.usd):
            backend = await self.backend()
            key = f"sora-mcp-{uuid.uuid4()}"
            ledger.record_pending(key, _fingerprint({"kind": kind, "src": req.video_id, "prompt": prompt_sent}, None), {})

            async def send() -> RemoteVideo:
                if kind == "remix":
                    return await backend.remix(req.video_id, prompt_sent, extra=req.extra, idempotency_key=key)
                if kind == "extend":
                    return await backend.extend(req.video_id, prompt_sent, plan.new_seconds, extra=req.extra,
                                                idempotency_key=key)
                return await backend.edit(req.video_id, prompt_sent, extra=req.extra, idempotency_key=key)

            match = sending.Match(prompt_sent, source_id=req.video_id if kind == "remix" else None)
            remote = await self._send_once(send, match, key)
            ledger.resolve_pending(key, remote.id)
            ledger.record_job(
                remote, backend=backend.dialect, prompt_given=req.prompt, prompt_sent=prompt_sent,
                augmentation=req.fields.model_dump(exclude_none=True), input_reference_sha256=None, kind=kind,
                source_id=req.video_id, cost_usd=quote.usd, cost_note=quote.note, idempotency_key=key,
            )
        self._watch(remote.id)
        return job_from_remote(remote, ledger.get(remote.id), backend=backend.dialect, data_dir=self.settings.data_dir)

    async def create_batch(
        self, specs: list[dict[str, Any]] | None = None, jsonl_path: str | None = None, *,
        defaults: dict[str, Any] | None = None, concurrency: int = 3, max_attempts: int = 3,
        fail_fast: bool = False, dry_run: bool = False, approve: Approver | None = None,
        on_progress: waiting.ProgressFn | None = None,
    ) -> BatchResult:
        """Create many jobs (see `service.batch`): one result per line, never two jobs for one line."""
        from sora_mcp.service.batch import run_batch

        return await run_batch(self, specs, jsonl_path, defaults=defaults, concurrency=concurrency,
                               max_attempts=max_attempts, fail_fast=fail_fast, dry_run=dry_run, approve=approve,
                               on_progress=on_progress)

    async def _send_once(self, send: Callable[[], Awaitable[RemoteVideo]], match: sending.Match, key: str) -> RemoteVideo:
        """Send a paid request once, reconciling an unknown outcome (see `service.sending`).
        A definite refusal forgets the pending record; an unknown outcome keeps it."""
        try:
            return await sending.send_once(self, send, match)
        except OutcomeUnknown:
            raise
        except SoraError:
            self._ledger().drop_pending(key)
            raise

    async def _reconcile(self, match: sending.Match) -> RemoteVideo | None:
        """A backend job matching a request whose answer was lost, not yet claimed by anyone."""
        listed = await sending._recent(await self.backend(), int(time.time()) - sending.WINDOW_S)
        return sending._claim(self, listed or [], match)

    async def _check_budget(self, quote: Quote, approve: Approver | None) -> None:
        from sora_mcp.service.budget import check_budget

        await check_budget(self.settings, self._ledger(), quote, approve, reserved=self._reserved_usd)

    def over_budget(self, quote: Quote) -> str | None:
        """Why `quote` would need approval now (it crosses the remaining budget), or None."""
        from sora_mcp.service.budget import over_budget

        return over_budget(self.settings, self._ledger(), quote, reserved=self._reserved_usd)

    @contextlib.contextmanager
    def _reserve(self, usd: float | None) -> Iterator[None]:
        """Count a paid request in flight against the budget until it is recorded (or fails)."""
        self._reserved_usd += usd or 0.0
        try:
            yield
        finally:
            self._reserved_usd -= usd or 0.0

    def _dry_run_job(self, model: str, size: str, seconds: str, prompt: str, quote: Quote, note: str | None) -> Job:
        job = Job(id="dry-run", status="dry_run", progress=0, model=model, size=size, seconds=seconds,
                  prompt=prompt, quote=quote, backend=None)
        job.next_step = ((note + " ") if note else "") + (
            "Nothing was created or billed. Call again without dry_run to create it."
        )
        return job

    # ---- reading ---------------------------------------------------------------------------
    async def get_status(self, video_id: str, *, archive_now: bool = True) -> Job:
        return (await self.refresh(video_id, archive_now=archive_now))[0]

    async def refresh(self, video_id: str, *, archive_now: bool = True) -> tuple[Job, int | None]:
        """Ask the backend for the job now; update the ledger; archive it when completed."""
        _check_id(video_id)
        ledger = self._ledger()
        backend = await self.backend()
        try:
            remote = await backend.retrieve(video_id)
        except NotFound:
            record = ledger.get(video_id)
            if record is None:
                raise NotFound(
                    f"No video with id '{video_id}' on the backend or in the library",
                    fix="Check the id with list_videos.",
                ) from None
            if not record.terminal:
                # It vanished before it ended: no watcher should wait on it forever.
                ledger.mark_deleted(video_id, local_files_deleted=False)
                record = ledger.get(video_id) or record
            return job_from_record(record, self.settings.data_dir), None
        ledger.update_status(remote)
        ledger.record_poll(video_id)
        record = ledger.get(video_id)
        # The ledger says what is archived; files themselves are verified when downloaded.
        if remote.status == "completed" and archive_now and not self._fully_archived(record):
            await self.archive(remote)
            record = ledger.get(video_id)
        job = job_from_remote(remote, record, backend=backend.dialect, data_dir=self.settings.data_dir)
        return job, remote.poll_after_ms

    def _fully_archived(self, record: Any) -> bool:
        return record is not None and all(record.asset(v) is not None for v in self.settings.archive_variants)

    async def wait(
        self, video_ids: list[str], wait_seconds: float, on_progress: waiting.ProgressFn | None = None
    ) -> list[Job]:
        return await waiting.wait_for(self, video_ids, wait_seconds, on_progress)

    async def list(
        self, *, limit: int = 20, after: str | None = None, order: str = "desc", status: str | None = None,
        model: str | None = None, since: int | None = None, text: str | None = None,
    ) -> JobPage:
        from sora_mcp.service.listing import list_jobs

        return await list_jobs(self, limit=limit, after=after, order=order, status=status, model=model,
                               since=since, text=text)

    # ---- assets ----------------------------------------------------------------------------
    async def archive(self, remote: RemoteVideo) -> list[Asset]:
        """Save the configured variants of a completed job into the library (once)."""
        lock = self._archive_locks.setdefault(remote.id, anyio.Lock())
        async with lock:
            return await archive.archive_job(self, remote)

    async def download(self, video_id: str, variant: str = "video") -> Asset:
        _check_id(video_id)
        if variant not in ("video", "thumbnail", "spritesheet"):
            raise InvalidInput(f"Unknown variant '{variant}'", fix="Use video, thumbnail or spritesheet.")
        ledger = self._ledger()
        # Hashing a large archived file must not stall the event loop.
        cached = await anyio.to_thread.run_sync(lambda: archive.library_asset(self, video_id, variant))
        if cached is not None:
            return cached
        job = await self.get_status(video_id, archive_now=False)
        if job.status != "completed":
            record = ledger.get(video_id)
            if job.status in ("queued", "in_progress"):
                raise NotReady(
                    f"Video {video_id} is {job.status} ({job.progress}%), so there is nothing to download yet",
                    fix=f"Call get_status(video_id='{video_id}', wait_seconds=120) and download when it is completed.",
                )
            if job.status == "expired":
                raise archive.expired_error(video_id, variant, job.expires_at)
            if record is None or not record.assets:
                raise NotReady(f"Video {video_id} is {job.status}; it has no downloadable asset",
                               fix="Create a new video with create_video.")
        lock = self._archive_locks.setdefault(video_id, anyio.Lock())
        async with lock:
            return await archive.fetch_variant(self, video_id, variant)

    async def delete(self, video_id: str, *, delete_local_files: bool = False) -> DeleteResult:
        from sora_mcp.service.listing import delete_job

        _check_id(video_id)
        return await delete_job(self, video_id, delete_local_files=delete_local_files)

    # ---- summaries (resources) -------------------------------------------------------------
    async def backend_models(self) -> list[str] | None:
        try:
            return await (await self.backend()).list_models()
        except SoraError:
            return None

    def library_summary(self) -> dict[str, Any]:
        return self._ledger().summary()

    def spend_summary(self) -> dict[str, Any]:
        from sora_mcp.service.budget import remaining_budget

        summary = dict(self._ledger().spend_summary())
        remaining, which = remaining_budget(self.settings, self._ledger())
        summary["budget_remaining_usd"] = None if remaining is None else round(remaining, 4)
        summary["budget_limit"] = which or "no budget set (SORA_MCP_BUDGET_USD / SORA_MCP_BUDGET_DAILY_USD)"
        return summary

    # ---- background watcher ----------------------------------------------------------------
    def _watch(self, video_id: str) -> None:
        if self._tg is None or not self.settings.watch or video_id in self._watching:
            return
        self._watching.add(video_id)
        self._tg.start_soon(self._follow, video_id)

    async def _resume_watching(self) -> None:
        from sora_mcp.service import recovery

        await recovery.resume(self)

    async def _follow(self, video_id: str) -> None:
        from sora_mcp.service import recovery

        try:
            await recovery.follow(self, video_id)
        finally:
            self._watching.discard(video_id)

    def spawn(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        if self._tg is not None:
            self._tg.start_soon(fn, *args)


def _check_id(video_id: str) -> None:
    if not isinstance(video_id, str) or not video_id.strip():
        raise InvalidInput("video_id is empty", fix="Pass the id returned by create_video or list_videos.")
    if len(video_id) > 512 or any(ord(c) < 32 for c in video_id):
        raise InvalidInput("video_id is not a valid id (too long or has control characters)",
                           fix="Pass the id returned by create_video or list_videos.")


def _fingerprint(fields: dict[str, Any], ref: Any) -> str:
    import hashlib
    import json

    data = dict(fields, ref=getattr(ref, "sha256", None))
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


class _maybe_reference:
    """`async with` a prepared input reference, or None when there is none."""

    def __init__(self, prepare: Any, value: str | None, settings: Settings, size: str) -> None:
        self._cm = None
        if value:
            self._cm = prepare(value, roots=settings.roots(), target_size=size, tmp_dir=settings.tmp_dir)

    async def __aenter__(self) -> Any:
        return await self._cm.__aenter__() if self._cm is not None else None

    async def __aexit__(self, *exc: Any) -> Any:
        if self._cm is not None:
            return await self._cm.__aexit__(*exc)
        return None


__all__ = ["VideoService", "TERMINAL_STATUSES", "next_step"]
