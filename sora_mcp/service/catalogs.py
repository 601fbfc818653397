"""Which models, sizes, durations and prices apply: the shipped catalog, or a provider's own list.

A backend whose dialect has a video-models endpoint (e.g. OpenRouter's) reports its own models;
that list is the whole catalog for that backend, read again after `catalog_ttl_s`.
"""

from __future__ import annotations

import logging
import time

import anyio

from sora_mcp.config import Settings
from sora_mcp.errors import SoraError
from sora_mcp.prompting import Catalog
from sora_mcp.service.routing import BackendPool

log = logging.getLogger("sora_mcp.service")


class Catalogs:
    """The shipped catalog (loaded on first use) and the providers' lists, by backend name."""

    def __init__(self, settings: Settings, backends: BackendPool) -> None:
        self.settings = settings
        self.backends = backends
        self._shipped: Catalog | None = None
        # Providers' own model lists, by backend name (None: the default backend), with when read.
        self._cached: dict[str | None, tuple[Catalog, float]] = {}
        self._lock = anyio.Lock()

    @property
    def shipped(self) -> Catalog:
        if self._shipped is None:
            self._shipped = Catalog.load(self.settings.catalog)
        return self._shipped

    async def refresh(self, name: str | None = None) -> Catalog:
        """The catalog for a backend: the provider's own models when it reports them, read again
        after `catalog_ttl_s`. A failed re-read keeps the last good list; a first read that fails
        raises (nothing could be sent)."""
        if name is None and self.backends.uses_engine:
            return self.shipped
        backend = await self.backends.get(name)
        dialect = backend.known_dialect
        if dialect is None or not dialect.models_path:
            return self.shipped
        async with self._lock:
            cached = self._cached.get(name)
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
            self._cached[name] = (catalog, time.monotonic())
            return catalog

    def for_backend(self, name: str | None) -> Catalog:
        """The catalog last read for a backend (`refresh` first), else the shipped one."""
        cached = self._cached.get(name)
        return cached[0] if cached is not None else self.shipped
