"""VideoService: the one set of operations the MCP tools and the CLI both call.

It owns the long-lived parts: the backend client (started lazily, so a client spawning the
server gets `tools/list` fast), the embedded engine when no base URL is configured, the
ledger, the catalog and a background watcher that archives jobs as they complete.
The embedded engine belongs to this process: it gets a fresh random key at start, held only by
the engine and the backend client (never logged, written or returned), and no admin routes.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from pathlib import Path
from typing import Any, Literal, Self

import anyio

from sora_mcp.config import Settings
from sora_mcp.errors import InvalidInput, NotFound, NotReady, SoraError
from sora_mcp.library import Ledger, open_store, sweep_temp
from sora_mcp.library.stores import AssetStore
from sora_mcp.library.tempfiles import private_dir
from sora_mcp.models import Asset, DeleteResult, Job, JobPage, RemoteVideo
from sora_mcp.prompting import Catalog
from sora_mcp.service import archive, waiting
from sora_mcp.service.generating import Generating
from sora_mcp.service.jobs import SUGGESTED_WAIT_S, job_from_record, job_from_remote, next_step, record_assets
from sora_mcp.service.requests import check_id as _check_id

log = logging.getLogger("sora_mcp.service")
MODELS_TTL_S = 300.0


class VideoService(Generating):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ledger: Ledger | None = None
        self.store: AssetStore | None = None  # None: files in the local library (SORA_MCP_ASSET_STORE unset)
        self._catalog: Catalog | None = None
        # Providers' own model lists, by backend name (None: the default backend), with when read.
        self._catalogs: dict[str | None, tuple[Catalog, float]] = {}
        self._catalog_lock = anyio.Lock()
        from sora_mcp.backends_file import load_backends

        self._named = load_backends(settings)  # more backends from the settings file, by name
        self._others: dict[str, Any] = {}
        self._backend: Any = None
        self._engine: Any = None
        self._backend_lock = anyio.Lock()
        self._tg: anyio.abc.TaskGroup | None = None
        self._watching: set[str] = set()
        self._archive_locks: dict[str, anyio.Lock] = {}
        self._archiving: dict[str, anyio.Event] = {}  # background archives running, by job
        self._claimed: set[str] = set()  # backend jobs a reconciliation already took
        # Names this instance in the ledger's claims (work done once across instances on one database).
        self.instance_id = f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"
        self._reserved_usd = 0.0  # quotes of paid requests in flight, counted against the budget
        self.poller = waiting.Poller(self)
        self._reference_slots: anyio.CapacityLimiter | None = None
        self.waiting_for_space: set[str] = set()  # jobs whose background archive a full disk stopped
        self._served: tuple[float, list[str]] | None = None  # (when read, the backend's model ids)

    # ---- lifecycle -------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        self.store = open_store(self.settings.asset_store)  # a bad URL or no credentials: ConfigError now
        # Private by mode: 0700 folders (the ledger and library files are 0600 themselves).
        for d in (self.settings.data_dir, self.settings.tmp_dir, self.settings.library_dir):
            private_dir(d)
        sweep_temp(self.settings.tmp_dir)
        self.ledger = Ledger(self.settings.ledger_location)
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
        for other in self._others.values():
            await other.aclose()
        self._others.clear()
        if self._engine is not None:
            await anyio.to_thread.run_sync(self._engine.stop)
            self._engine = None
        if self.ledger is not None:
            self.ledger.close()
            self.ledger = None

    @property
    def reference_slots(self) -> anyio.CapacityLimiter:
        """How many input images are read and decoded at once (each may take ~max_image_memory_mb)."""
        if self._reference_slots is None:
            self._reference_slots = anyio.CapacityLimiter(self.settings.max_concurrent_references)
        return self._reference_slots

    @property
    def started(self) -> bool:
        return self.ledger is not None

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = Catalog.load(self.settings.catalog)
        return self._catalog

    async def refresh_catalog(self, name: str | None = None) -> Catalog:
        """The catalog for a backend: the provider's own models when it reports them (a
        video-models endpoint, e.g. OpenRouter's), read again after `catalog_ttl_s`. A failed
        re-read keeps the last good list; a first read that fails raises (nothing could be sent)."""
        if name is None and self.uses_engine:
            return self.catalog
        backend = await self.backend(name)
        dialect = backend.known_dialect
        if dialect is None or not dialect.models_path:
            return self.catalog
        async with self._catalog_lock:
            cached = self._catalogs.get(name)
            if cached is not None and time.monotonic() - cached[1] < self.settings.catalog_ttl_s:
                return cached[0]
            try:
                entries = await backend.model_catalog()
            except SoraError as exc:
                if cached is not None:
                    log.warning(
                        "could not re-read %s's models (%s); keeping the last list",
                        dialect.label,
                        exc.message,
                    )
                    return cached[0]
                raise
            catalog = Catalog.from_provider(
                entries or [], provider=dialect.label, user_file=self.settings.catalog
            )
            self._catalogs[name] = (catalog, time.monotonic())
            return catalog

    def catalog_for(self, name: str | None) -> Catalog:
        """The catalog last read for a backend (`refresh_catalog` first), else the shipped one."""
        cached = self._catalogs.get(name)
        return cached[0] if cached is not None else self.catalog

    # ---- several backends ------------------------------------------------------------------
    def route(self, model: str | None, explicit: str | None = None) -> str | None:
        """Which backend a request goes to: the one named, else the one whose `models` list the
        model, else the default (None)."""
        from sora_mcp.backends_file import RESERVED

        if explicit:
            if explicit in self._named:
                return explicit
            if explicit.lower() in RESERVED:
                return None
            raise InvalidInput(
                f"No backend is named '{explicit[:60]}'",
                fix=f"Use one of: default, {', '.join(self._named)}"
                if self._named
                else "Leave backend out: only the default backend is configured.",
            )
        hits = [n for n, e in self._named.items() if model and e.serves(model)]
        if len(hits) > 1:
            raise InvalidInput(
                f"The model {model} is listed by several backends: {', '.join(hits)}",
                fix="Pass backend= one of those names.",
            )
        return hits[0] if hits else None

    def job_backend(self, video_id: str) -> str | None:
        """The backend that made a job, as the ledger recorded it (None: the default backend)."""
        record = self._ledger().get(video_id) if self.ledger is not None else None
        where = getattr(record, "base_url_host", None)
        return next((n for n, e in self._named.items() if where and e.url == where), None)

    def backend_names(self) -> list[str | None]:
        return [None, *self._named]

    def _named_backend(self, name: str) -> Any:
        from sora_mcp.backends import Backend

        if name not in self._named:
            raise InvalidInput(
                f"No backend is named '{name[:60]}'", fix=f"Use one of: default, {', '.join(self._named)}."
            )
        if name not in self._others:
            entry = self._named[name]
            self._others[name] = Backend(
                base_url=entry.url,
                api_key=entry.api_key(),
                dialect=entry.dialect,
                timeout_s=self.settings.request_timeout_s,
            )
        return self._others[name]

    async def backend(self, name: str | None = None) -> Any:
        """A backend client, created on first use: a named one from the backends file, or the
        default (starting the embedded engine if needed)."""
        if name is not None:
            return self._named_backend(name)
        if self._backend is not None:
            return self._backend
        async with self._backend_lock:
            if self._backend is None:
                from sora_mcp.backends import Backend

                base_url, key = self.settings.base_url, None
                if not base_url:
                    key = secrets.token_urlsafe(32)
                    self._engine = await anyio.to_thread.run_sync(self._start_engine, key)
                    base_url = self._engine.base_url
                self._backend = Backend.from_settings(self.settings, base_url=base_url, api_key=key)
        return self._backend

    def _start_engine(self, key: str) -> Any:
        from sora_mcp.engine import EngineConfig, EngineServer

        # The generated key wins over any SORA_ENGINE_API_KEY; nobody else knows it, so no admin routes.
        overrides: dict[str, Any] = {
            "data_dir": private_dir(self.settings.engine_dir),
            "api_key": key,
            "faults_enabled": False,
        }
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

    # ---- reading ---------------------------------------------------------------------------
    async def get_status(self, video_id: str, *, archive_now: bool = True) -> Job:
        return (await self.refresh(video_id, archive="now" if archive_now else "no"))[0]

    async def refresh(
        self, video_id: str, *, archive: Literal["now", "later", "no"] = "now"
    ) -> tuple[Job, int | None]:
        """Ask the backend for the job now; update the ledger; archive it when completed: before
        answering ("now"), or in the background ("later": `archived(video_id)` waits for it)."""
        _check_id(video_id)
        ledger = self._ledger()
        backend = await self.backend(self.job_backend(video_id))
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
        ledger.update_status(remote, polled=True)
        record = ledger.get(video_id)
        # The ledger says what is archived; files themselves are verified when downloaded.
        if remote.status == "completed" and archive != "no" and not self._fully_archived(record):
            if archive == "now":
                await self.archive(remote)
                record = ledger.get(video_id)
            else:
                self.archive_soon(remote)
        job = job_from_remote(remote, record, backend=backend.dialect, data_dir=self.settings.data_dir)
        return job, remote.poll_after_ms

    def _fully_archived(self, record: Any) -> bool:
        return record is not None and all(record.asset(v) is not None for v in self.settings.archive_variants)

    async def wait(
        self, video_ids: list[str], wait_seconds: float, on_progress: waiting.ProgressFn | None = None
    ) -> list[Job]:
        return await waiting.wait_for(self, video_ids, wait_seconds, on_progress)

    async def list(
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
        from sora_mcp.service.listing import list_jobs

        return await list_jobs(
            self, limit=limit, after=after, order=order, status=status, model=model, since=since, text=text
        )

    # ---- assets ----------------------------------------------------------------------------
    async def archive(self, remote: RemoteVideo) -> list[Asset]:
        """Save the configured variants of a completed job into the library (once)."""
        lock = self._archive_locks.setdefault(remote.id, anyio.Lock())
        async with lock:
            return await archive.archive_job(self, remote)

    def archive_soon(self, remote: RemoteVideo) -> None:
        """Archive a completed job in the background, once at a time per job (failures are logged)."""
        if remote.id in self._archiving or self._tg is None:
            return
        done = self._archiving[remote.id] = anyio.Event()

        async def run() -> None:
            from sora_mcp.service.recovery import archive_quietly

            try:
                if await archive_quietly(self, remote):
                    self.waiting_for_space.add(remote.id)  # the watcher archives it when space returns
                else:
                    self.waiting_for_space.discard(remote.id)
            finally:
                del self._archiving[remote.id]
                done.set()

        self._tg.start_soon(run)

    def archiving(self, video_id: str) -> bool:
        """Whether a background archive of the job is running now (its files are not all saved yet)."""
        return video_id in self._archiving

    async def archived(self, video_id: str) -> None:
        """Return once no background archive of the job is running."""
        if (done := self._archiving.get(video_id)) is not None:
            await done.wait()

    def with_library(self, job: Job) -> Job:
        """The job with its archived files as the ledger has them now."""
        record = self._ledger().get(job.id)
        if record is None:
            return job
        fresh = job.model_copy(update={"assets": record_assets(record, self.settings.data_dir)})
        fresh.next_step = next_step(fresh)
        return fresh

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
                    fix=f"Call get_status(video_id='{video_id}', wait_seconds={SUGGESTED_WAIT_S:g}) and download when it "
                    "is completed.",
                )
            if job.status == "expired":
                raise archive.expired_error(video_id, variant, job.expires_at)
            if record is None or not record.assets:
                raise NotReady(
                    f"Video {video_id} is {job.status}; it has no downloadable asset",
                    fix="Create a new video with create_video.",
                )
        lock = self._archive_locks.setdefault(video_id, anyio.Lock())
        async with lock:
            return await archive.fetch_variant(self, video_id, variant)

    async def export(self, asset: Asset, destination: str, *, overwrite: bool = False) -> Path:
        """Copy an archived asset to `destination`, inside the allowed folders (see `service.export`)."""
        from sora_mcp.service.export import copy_asset

        roots = self.settings.roots()
        return await anyio.to_thread.run_sync(
            lambda: copy_asset(asset, destination, roots, overwrite=overwrite, store=self.store)
        )

    async def delete(self, video_id: str, *, delete_local_files: bool = False) -> DeleteResult:
        from sora_mcp.service.listing import delete_job

        _check_id(video_id)
        try:
            return await delete_job(self, video_id, delete_local_files=delete_local_files)
        finally:
            self.poller.forget(video_id)

    async def apply_webhook(self, video_id: str, data: dict[str, Any]) -> bool:
        """A verified completion webhook: record what it says and archive at once, with no poll.
        False (and nothing changed) when the job is not one this library knows."""
        from sora_mcp.backends import normalize_video

        ledger = self._ledger()
        if ledger.get(video_id) is None:
            return False
        backend = await self.backend(self.job_backend(video_id))
        remote = normalize_video({**data, "id": video_id}, dialect=backend.known_dialect)
        ledger.update_status(remote)
        if remote.status == "completed":
            self.archive_soon(remote)
        return True

    # ---- summaries (resources) -------------------------------------------------------------
    async def backend_models(self) -> list[str] | None:
        try:
            return await (await self.backend()).list_models()
        except SoraError:
            return None

    async def served_models(self) -> list[str] | None:
        """The backend's model list (GET /v1/models), read at most once per MODELS_TTL_S; [] when it
        has no list, None when it could not be read now (then it is asked again next time)."""
        now = anyio.current_time()
        if self._served is not None and now - self._served[0] < MODELS_TTL_S:
            return self._served[1]
        try:
            models = await (await self.backend()).list_models()
        except SoraError:
            return None
        self._served = (now, list(models or []))
        return self._served[1]

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


__all__ = ["VideoService"]
