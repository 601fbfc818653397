"""The backends a service talks to: the default one (started lazily, with the embedded engine when
no base URL is configured) and those named in the backends file, and which one a request goes to.

The default backend is built on first use, so a client spawning the server gets `tools/list`
fast. The embedded engine belongs to this process: it gets a fresh random key at start, held only
by the engine and the backend client (never logged, written or returned), and no admin routes.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

import anyio

from sora_mcp.backends_file import RESERVED, load_backends
from sora_mcp.config import Settings
from sora_mcp.errors import InvalidInput, SoraError
from sora_mcp.library.tempfiles import private_dir

if TYPE_CHECKING:  # both imported when first used: importing them is slow and often not needed
    from sora_mcp.backends import Backend
    from sora_mcp.engine import EngineServer

MODELS_TTL_S = 300.0


class BackendPool:
    """The default backend and the named ones, each built once and closed by `aclose`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.named = load_backends(settings)  # more backends from the settings file, by name
        self._others: dict[str, Backend] = {}
        self._default: Backend | None = None
        self.engine: EngineServer | None = None  # the embedded engine, once started
        self._lock = anyio.Lock()
        self._served: tuple[float, list[str]] | None = None  # (when read, the backend's model ids)

    @property
    def uses_engine(self) -> bool:
        return self.settings.uses_embedded_engine

    def names(self) -> list[str | None]:
        return [None, *self.named]

    def route(self, model: str | None, explicit: str | None = None) -> str | None:
        """Which backend a request goes to: the one named, else the one whose `models` list the
        model, else the default (None)."""
        if explicit:
            if explicit in self.named:
                return explicit
            if explicit.lower() in RESERVED:
                return None
            raise InvalidInput(
                f"No backend is named '{explicit[:60]}'",
                fix=f"Use one of: default, {', '.join(self.named)}"
                if self.named
                else "Leave backend out: only the default backend is configured.",
            )
        hits = [n for n, e in self.named.items() if model and e.serves(model)]
        if len(hits) > 1:
            raise InvalidInput(
                f"The model {model} is listed by several backends: {', '.join(hits)}",
                fix="Pass backend= one of those names.",
            )
        return hits[0] if hits else None

    def name_of_host(self, where: str | None) -> str | None:
        """The named backend at a recorded base URL (None: the default backend)."""
        return next((n for n, e in self.named.items() if where and e.url == where), None)

    def _named_backend(self, name: str) -> Backend:
        from sora_mcp.backends import Backend

        if name not in self.named:
            raise InvalidInput(
                f"No backend is named '{name[:60]}'", fix=f"Use one of: default, {', '.join(self.named)}."
            )
        if name not in self._others:
            entry = self.named[name]
            self._others[name] = Backend.from_entry(
                self.settings,
                base_url=entry.url,
                api_key=entry.api_key(),
                dialect=entry.dialect,
                key_source=entry.key_source,
            )
        return self._others[name]

    async def get(self, name: str | None = None) -> Backend:
        """A backend client, created on first use: a named one from the backends file, or the
        default (starting the embedded engine if needed)."""
        if name is not None:
            return self._named_backend(name)
        if self._default is not None:
            return self._default
        async with self._lock:
            if self._default is None:
                from sora_mcp.backends import Backend

                base_url, key = self.settings.base_url, None
                if not base_url:
                    key = secrets.token_urlsafe(32)
                    self.engine = await anyio.to_thread.run_sync(self._start_engine, key)
                    base_url = self.engine.base_url
                self._default = Backend.from_settings(self.settings, base_url=base_url, api_key=key)
        return self._default

    def _start_engine(self, key: str) -> EngineServer:
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

    async def served_models(self) -> list[str] | None:
        """The default backend's model list (GET /v1/models), read at most once per MODELS_TTL_S; []
        when it has no list, None when it could not be read now (then it is asked again next time)."""
        now = anyio.current_time()
        if self._served is not None and now - self._served[0] < MODELS_TTL_S:
            return self._served[1]
        try:
            models = await (await self.get()).list_models()
        except SoraError:
            return None
        self._served = (now, list(models or []))
        return self._served[1]

    async def aclose(self) -> None:
        if self._default is not None:
            await self._default.aclose()
            self._default = None
        for other in self._others.values():
            await other.aclose()
        self._others.clear()
        if self.engine is not None:
            await anyio.to_thread.run_sync(self.engine.stop)
            self.engine = None
