"""VideoService: the one set of operations the MCP tools and the CLI both call.

A thin facade: it owns a `ServiceContext` (context.py: settings, backends, catalogs, ledger,
task group, reservations, ...) and delegates each operation to the module that does it
(quoting, generating, batch, reading, waiting, archive, listing, recovery, media, doctor).
Entering it (`async with`) opens the ledger and the task group the watcher and background
archives run in, and resumes watching what a previous run left unfinished; leaving it closes
the backends, stops the embedded engine if one was started and closes the ledger.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self

import anyio

from sora_mcp.config import Settings
from sora_mcp.errors import SoraError
from sora_mcp.library import Ledger, open_store, sweep_temp
from sora_mcp.library.stores import AssetStore
from sora_mcp.library.tempfiles import private_dir
from sora_mcp.models import Asset, DeleteResult, Job, JobPage, Quote, RemoteVideo
from sora_mcp.prompting import Catalog, ValidatedRequest
from sora_mcp.service import archive, generating, listing, media, quoting, reading, recovery, storing
from sora_mcp.service.budget import Approver, remaining_budget
from sora_mcp.service.catalogs import Catalogs
from sora_mcp.service.context import ServiceContext
from sora_mcp.service.polling import Poller, Turns
from sora_mcp.service.requests import CreateRequest, DeriveRequest
from sora_mcp.service.requests import check_id as _check_id
from sora_mcp.service.routing import BackendPool
from sora_mcp.service.waiting import ProgressFn, next_poll_in, take_poll_turn, wait_for

if TYPE_CHECKING:
    from sora_mcp.backends import Backend
    from sora_mcp.engine import EngineServer

    # batch and doctor load on first use: neither is needed to start serving (cold start).
    from sora_mcp.service import batch, doctor


class VideoService:
    def __init__(self, settings: Settings) -> None:
        backends = BackendPool(settings)

        async def fetch(video_id: str) -> tuple[Job, int | None]:
            # archived in the background: a poll answers when it sees the job end
            return await reading.refresh(self.ctx, video_id, archive_when="later")

        self.ctx = ServiceContext(
            settings=settings,
            backends=backends,
            catalogs=Catalogs(settings, backends),
            # [cluster] each poll is a turn in the ledger, shared with other instances (waiting.py)
            poller=Poller(
                fetch,
                Turns(
                    take=lambda video_id, expect_s: take_poll_turn(self.ctx, video_id, expect_s),
                    hold=lambda video_id, interval_s, ended: next_poll_in(
                        self.ctx, video_id, interval_s, ended
                    ),
                ),
            ),
        )

    # ---- lifecycle -------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        ctx = self.ctx
        ctx.store = open_store(ctx.settings.asset_store)  # a bad URL or no credentials: ConfigError now
        # Private by mode: 0700 folders (the ledger and library files are 0600 themselves).
        for d in (ctx.settings.data_dir, ctx.settings.tmp_dir, ctx.settings.library_dir):
            private_dir(d)
        sweep_temp(ctx.settings.tmp_dir)
        ctx.opened = Ledger(ctx.settings.ledger_location)
        ctx.tasks = anyio.create_task_group()
        await ctx.tasks.__aenter__()
        if ctx.settings.watch:
            ctx.tasks.start_soon(recovery.resume, ctx)
        return self

    async def __aexit__(self, *exc: object) -> None:
        ctx = self.ctx
        if ctx.tasks is not None:
            ctx.tasks.cancel_scope.cancel()
            await ctx.tasks.__aexit__(None, None, None)
            ctx.tasks = None
        await ctx.backends.aclose()
        if ctx.opened is not None:
            ctx.opened.close()
            ctx.opened = None

    # ---- state the front ends read -----------------------------------------------------------
    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    @property
    def ledger(self) -> Ledger | None:
        """The ledger while the service is started, else None."""
        return self.ctx.opened

    @property
    def started(self) -> bool:
        return self.ctx.opened is not None

    @property
    def instance_id(self) -> str:
        return self.ctx.instance_id

    @property
    def store(self) -> AssetStore | None:
        """Where archived files are kept: the S3-compatible store, or None for the local library."""
        return self.ctx.store

    @property
    def poller(self) -> Poller:
        return self.ctx.poller

    @property
    def waiting_for_space(self) -> set[str]:
        """Jobs whose background archive a full disk stopped."""
        return self.ctx.waiting_for_space

    @property
    def reference_slots(self) -> anyio.CapacityLimiter:
        return self.ctx.reference_slots

    @property
    def uses_engine(self) -> bool:
        return self.ctx.uses_engine

    @property
    def engine(self) -> EngineServer | None:
        """The embedded engine this service started (None before its first use, or with a base URL)."""
        return self.ctx.backends.engine

    # ---- catalogs and backends ---------------------------------------------------------------
    @property
    def catalog(self) -> Catalog:
        return self.ctx.catalogs.shipped

    async def refresh_catalog(self, name: str | None = None) -> Catalog:
        return await self.ctx.catalogs.refresh(name)

    def catalog_for(self, name: str | None) -> Catalog:
        return self.ctx.catalogs.for_backend(name)

    def route(self, model: str | None, explicit: str | None = None) -> str | None:
        return self.ctx.backends.route(model, explicit)

    def job_backend(self, video_id: str) -> str | None:
        return self.ctx.job_backend(video_id)

    def backend_names(self) -> list[str | None]:
        return self.ctx.backends.names()

    async def backend(self, name: str | None = None) -> Backend:
        return await self.ctx.backends.get(name)

    async def backend_models(self) -> list[str] | None:
        try:
            return await (await self.backend()).list_models()
        except SoraError:
            return None

    async def served_models(self) -> list[str] | None:
        return await self.ctx.backends.served_models()

    async def diagnose(self) -> list[doctor.BackendReport]:
        """`doctor`: every configured backend checked with reads only."""
        from sora_mcp.service import doctor

        return await doctor.diagnose_all(self.ctx)

    # ---- generating ------------------------------------------------------------------------
    def quote_create(self, req: CreateRequest) -> tuple[str, ValidatedRequest, Quote]:
        return quoting.quote_create(self.ctx, req)

    async def quote_derive(
        self, kind: str, req: DeriveRequest, *, offline: bool = False
    ) -> quoting.DerivePlan:
        return await quoting.quote_derive(self.ctx, kind, req, offline=offline)

    def over_budget(self, quote: Quote) -> str | None:
        return quoting.over_budget(self.ctx, quote)

    async def create(
        self,
        req: CreateRequest,
        *,
        dry_run: bool = False,
        approve: Approver | None = None,
        budget_approved: bool = False,
        idempotency_key: str | None = None,
    ) -> Job:
        return await generating.create(
            self.ctx,
            req,
            dry_run=dry_run,
            approve=approve,
            budget_approved=budget_approved,
            idempotency_key=idempotency_key,
        )

    async def derive(
        self, kind: str, req: DeriveRequest, *, dry_run: bool = False, approve: Approver | None = None
    ) -> Job:
        return await generating.derive(self.ctx, kind, req, dry_run=dry_run, approve=approve)

    async def plan_batch(
        self, specs: list[Any] | None, jsonl_path: str | None, defaults: dict[str, Any] | None
    ) -> list[batch.BatchLine]:
        from sora_mcp.service import batch

        return await batch.plan_batch(self.ctx, specs, jsonl_path, defaults)

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
        on_progress: ProgressFn | None = None,
    ) -> batch.BatchResult:
        """Create many jobs (see `service.batch`): one result per line, never two jobs for one line."""
        from sora_mcp.service import batch

        return await batch.run_batch(
            self.ctx,
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

    # ---- reading ---------------------------------------------------------------------------
    async def get_status(self, video_id: str, *, archive_now: bool = True) -> Job:
        return (await self.refresh(video_id, archive="now" if archive_now else "no"))[0]

    async def refresh(
        self, video_id: str, *, archive: Literal["now", "later", "no"] = "now"
    ) -> tuple[Job, int | None]:
        """Ask the backend for the job now; update the ledger; archive it when completed: before
        answering ("now"), or in the background ("later": `archived(video_id)` waits for it)."""
        return await reading.refresh(self.ctx, video_id, archive_when=archive)

    async def wait(
        self, video_ids: list[str], wait_seconds: float, on_progress: ProgressFn | None = None
    ) -> list[Job]:
        return await wait_for(self.ctx, video_ids, wait_seconds, on_progress)

    async def list_jobs(
        self,
        *,
        limit: int = 20,
        after: str | None = None,
        order: str = "desc",
        status: str | None = None,
        model: str | None = None,
        since: int | None = None,
        text: str | None = None,
    ) -> JobPage:
        return await listing.list_jobs(
            self.ctx,
            limit=limit,
            after=after,
            order=order,
            status=status,
            model=model,
            since=since,
            text=text,
        )

    def with_links(self, job: Job) -> Job:
        """The job with a fresh presigned link on each file kept in the S3 store (unchanged without one)."""
        return storing.with_links(self.ctx, job)

    def stored_bytes(self, asset: Asset, limit: int) -> bytes | None:
        """A small archived file's bytes read from the S3 store (None for a local file). Blocking."""
        return storing.small_file(self.ctx, asset.path, asset.size_bytes, limit)

    def with_library(self, job: Job) -> Job:
        """The job with its archived files as the ledger has them now."""
        return reading.with_library(self.ctx, job)

    # ---- assets ----------------------------------------------------------------------------
    async def archive(self, remote: RemoteVideo) -> list[Asset]:
        """Save the configured variants of a completed job into the library (once)."""
        return await archive.archive(self.ctx, remote)

    def archive_soon(self, remote: RemoteVideo) -> None:
        archive.archive_soon(self.ctx, remote)

    def following(self, video_id: str) -> bool:
        """[cluster] Whether the watcher here follows the job now (the sweep leaves it alone)."""
        return video_id in self.ctx.watching

    def archiving(self, video_id: str) -> bool:
        """Whether a background archive of the job is running now (its files are not all saved yet)."""
        return video_id in self.ctx.archiving

    async def archived(self, video_id: str) -> None:
        """Return once no background archive of the job is running."""
        await archive.archived(self.ctx, video_id)

    def is_archived(self, video_id: str) -> bool:
        """Whether the ledger has every configured variant of the job archived."""
        return archive.fully_archived(self.settings, self.ctx.ledger.get(video_id))

    async def download(self, video_id: str, variant: str = "video") -> Asset:
        return await reading.download(self.ctx, video_id, variant)

    async def export(self, asset: Asset, destination: str, *, overwrite: bool = False) -> Path:
        """Copy an archived asset to `destination`, inside the allowed folders (see `service.export`)."""
        from sora_mcp.service.export import copy_asset

        roots = self.ctx.roots()
        return await anyio.to_thread.run_sync(
            lambda: copy_asset(asset, destination, roots, overwrite=overwrite, store=self.store)
        )

    def library_file(self, video_id: str, variant: str) -> media.LibraryFile:
        """The archived file for the player, checked to be inside the library (see `service.media`)."""
        return media.library_file(self.ctx, video_id, variant)

    async def read_chunk(self, video_id: str, variant: str, offset: int, length: int) -> tuple[bytes, int]:
        return await media.read_chunk(self.ctx, video_id, variant, offset, length)

    async def delete(self, video_id: str, *, delete_local_files: bool = False) -> DeleteResult:
        _check_id(video_id)
        self.ctx.check_visible(video_id)
        try:
            return await listing.delete_job(self.ctx, video_id, delete_local_files=delete_local_files)
        finally:
            self.ctx.poller.forget(video_id)

    async def apply_webhook(self, video_id: str, data: dict[str, Any]) -> bool:
        """A verified completion webhook: record what it says and archive at once, with no poll.
        False (and nothing changed) when the job is not one this library knows."""
        return await reading.apply_webhook(self.ctx, video_id, data)

    def remember_delivery(self, key: str, keep_s: float) -> bool:
        """[cluster] Note a webhook delivery id in the ledger; False when any instance noted it already."""
        return self.ctx.ledger.remember_once("webhook:" + key, keep_s)

    # ---- summaries (resources) -------------------------------------------------------------
    def library_summary(self) -> dict[str, Any]:
        return self.ctx.ledger.summary(owner=self.ctx.user.owner_filter)

    def spend_summary(self) -> dict[str, Any]:
        ledger = self.ctx.ledger
        who = self.ctx.user
        summary = dict(ledger.spend_summary(owner=who.owner_filter))
        remaining, which = remaining_budget(self.settings, ledger, who)
        summary["budget_remaining_usd"] = None if remaining is None else round(remaining, 4)
        summary["budget_limit"] = which or "no budget set (SORA_MCP_BUDGET_USD / SORA_MCP_BUDGET_DAILY_USD)"
        return summary


__all__ = ["VideoService"]
