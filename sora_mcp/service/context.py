"""`ServiceContext`: the state every service module works on, passed explicitly.

`VideoService` (core.py) owns one and hands it to the modules (generating, sending, batch,
waiting, archive, listing, recovery, media, doctor), which take it as their first argument
instead of reaching into the service. What is in it:

- `settings`, `backends` (the default backend and the named ones: `routing.BackendPool`),
  `catalogs` (shipped and providers' lists), and `instance_id` (this instance in ledger claims);
- `opened` (the ledger, set while the service is started; `ledger` raises outside it),
  `tasks` (the task group background work runs in, likewise) and `store` (the S3-compatible
  asset store SORA_MCP_ASSET_STORE names, opened on start; None: files in the local library);
- `reservations` (budget held by paid requests in flight, by user), `claimed` (backend jobs a
  reconciliation already took), `watching` (jobs the watcher follows), the archive locks and
  running archives, `waiting_for_space` (archives a full disk stopped), and the `poller`.

Users (HTTP mode with a tokens file or OIDC, `sora_mcp.principal`): `user` is who the current
request acts for; `check_visible` answers another user's job like an unknown id, `roots` are the
folders that user's paths may name and `job_library` the library folder of a job's owner.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import anyio.abc

from sora_mcp import principal
from sora_mcp.config import Settings
from sora_mcp.library import Ledger, owner_library
from sora_mcp.library.stores import AssetStore
from sora_mcp.library.tempfiles import private_dir
from sora_mcp.principal import Principal
from sora_mcp.service.budget import Reservations
from sora_mcp.service.catalogs import Catalogs
from sora_mcp.service.polling import Poller
from sora_mcp.service.requests import check_id, unknown_video
from sora_mcp.service.routing import BackendPool

if TYPE_CHECKING:
    from sora_mcp.backends import Backend


def new_instance_id() -> str:
    """Names this instance in the ledger's claims (work done once across instances on one database)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(eq=False)
class ServiceContext:
    settings: Settings
    backends: BackendPool
    catalogs: Catalogs
    poller: Poller
    instance_id: str = field(default_factory=new_instance_id)
    opened: Ledger | None = None
    tasks: anyio.abc.TaskGroup | None = None
    store: AssetStore | None = None  # the S3-compatible store (set on start); None: the local library
    reservations: Reservations = field(default_factory=Reservations)
    claimed: set[str] = field(default_factory=set)
    watching: set[str] = field(default_factory=set)
    archive_locks: dict[str, anyio.Lock] = field(default_factory=dict)
    archiving: dict[str, anyio.Event] = field(default_factory=dict)  # background archives, by job
    waiting_for_space: set[str] = field(default_factory=set)
    _reference_slots: anyio.CapacityLimiter | None = field(default=None, init=False, repr=False)

    @property
    def ledger(self) -> Ledger:
        if self.opened is None:
            raise RuntimeError("VideoService used outside `async with`")
        return self.opened

    @property
    def reference_slots(self) -> anyio.CapacityLimiter:
        """How many input images are read and decoded at once (each may take ~max_image_memory_mb)."""
        if self._reference_slots is None:
            self._reference_slots = anyio.CapacityLimiter(self.settings.max_concurrent_references)
        return self._reference_slots

    @property
    def uses_engine(self) -> bool:
        return self.backends.uses_engine

    def job_backend(self, video_id: str) -> str | None:
        """The backend that made a job, as the ledger recorded it (None: the default backend)."""
        record = self.opened.get(video_id) if self.opened is not None else None
        return self.backends.name_of_host(record.base_url_host if record is not None else None)

    async def backend_of(self, video_id: str) -> Backend:
        """The backend client for the backend that made a job."""
        return await self.backends.get(self.job_backend(video_id))

    def archive_lock(self, video_id: str) -> anyio.Lock:
        return self.archive_locks.setdefault(video_id, anyio.Lock())

    # ---- users -----------------------------------------------------------------------------
    @property
    def user(self) -> Principal:
        """Who the current request acts for (the local owner, an admin, for stdio and the CLI)."""
        return principal.current()

    def check_visible(self, video_id: str) -> None:
        """Users see only their own jobs (an admin sees all): another user's id, and an id the
        ledger does not know, answer exactly like an unknown id, before any backend call."""
        who = self.user
        if who.admin:
            return
        check_id(video_id)
        if self.ledger.owner_of(video_id) != who.user_id:
            raise unknown_video(video_id)

    def roots(self) -> list[Path]:
        """Folders a caller's paths may name (input references, JSONL files, export destinations).
        A user who is not an admin gets only their own library folder: the server's folders, and
        other users' files in the data directory, are not theirs to read or overwrite."""
        who = self.user
        if who.admin:
            return self.settings.roots()
        return [private_dir(owner_library(self.settings.library_dir, who.user_id)).resolve()]

    def job_library(self, video_id: str) -> Path:
        """The library folder of the job's owner (the library itself for the local owner)."""
        owner = self.ledger.owner_of(video_id) or principal.LOCAL_OWNER
        return owner_library(self.settings.library_dir, owner)
